/*
 * store_vfs.h - the SQLite VFS store.c opens databases through: a wrapper
 * of the default one that gathers the writes of each WAL commit into one
 * (store_vfs.c).
 */
#ifndef FL_STORE_VFS_H
#define FL_STORE_VFS_H

/* Registers the VFS under the name STORE_VFS_NAME, not as the default:
 * only fleetd's own connections (store.c opens with that name) use it, so
 * other SQLite users in the same process (the broker loads the plugin) are
 * untouched. Call once (store.c does, on its first store_open). Returns the
 * name to open with, or NULL when the default VFS lacks what the wrapper
 * needs (then open with the default). The VFS object is the one piece of
 * process-wide state in libfleet: SQLite keeps registered VFSes in a global
 * list, and it is written once, under pthread_once. */
#define STORE_VFS_NAME "fleetd-wal"
const char *store_vfs_register(void);

#endif
