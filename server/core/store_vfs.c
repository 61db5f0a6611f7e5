/*
 * store_vfs.c - a thin SQLite VFS over the default one that turns the many
 * small writes of a WAL commit into one.
 *
 * SQLite appends each WAL frame with two writes (the 24-byte frame header,
 * then the page), so a group commit of ten pages costs twenty pwrite calls,
 * each paying the system call and the file system's per-call work. This VFS
 * gathers the contiguous writes of a WAL file in memory and hands them to the
 * real file as one write when the commit frame (a frame header whose "database
 * size after commit" is not zero) has its page written, and before anything
 * else touches the file (read, sync, truncate, size, lock, close, a write
 * elsewhere). So every committed frame is in the operating system before
 * SQLite publishes the commit in the WAL index and before the commit returns:
 * readers, a process crash and a checkpoint see exactly what they saw before.
 * Every other file passes straight through.
 *
 * It must not know anything but SQLite's VFS interface and the WAL file
 * format (https://sqlite.org/fileformat2.html#walformat).
 */
#include "store_vfs.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#define WAL_FRAME_HEADER 24
#define FLUSH_BYTES (1 << 20)  /* write out earlier than the commit past this */
#define WRITE_MAX (120 * 1024) /* per call of the real xWrite */

struct cfile {
    sqlite3_file base;
    sqlite3_file *real; /* follows this struct, in the same allocation */
    int wal;
    int commit_page_next; /* the last write was a commit frame's header */
    unsigned char *buf;   /* pending bytes, to go at off */
    size_t len, cap;
    sqlite3_int64 off;
};

static sqlite3_vfs shim_vfs;

static int flush(struct cfile *f)
{
    size_t done = 0;
    int rc = SQLITE_OK;
    /* the unix VFS writes at most 128 KB per call (it never needs more) */
    while (rc == SQLITE_OK && done < f->len) {
        size_t n = f->len - done < WRITE_MAX ? f->len - done : WRITE_MAX;
        rc = f->real->pMethods->xWrite(f->real, f->buf + done, (int)n, f->off + (sqlite3_int64)done);
        done += n;
    }
    f->len = 0;
    return rc;
}

static int c_close(sqlite3_file *pf)
{
    struct cfile *f = (struct cfile *)pf;
    int rc = flush(f);
    int rc2 = f->real->pMethods->xClose(f->real);
    free(f->buf);
    f->buf = NULL;
    f->cap = 0;
    return rc != SQLITE_OK ? rc : rc2;
}

static int c_read(sqlite3_file *pf, void *p, int n, sqlite3_int64 off)
{
    struct cfile *f = (struct cfile *)pf;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xRead(f->real, p, n, off);
}

static int c_write(sqlite3_file *pf, const void *p, int n, sqlite3_int64 off)
{
    struct cfile *f = (struct cfile *)pf;
    if (!f->wal || n <= 0)
        return f->real->pMethods->xWrite(f->real, p, n, off);
    int rc;
    if (f->len > 0 && f->off + (sqlite3_int64)f->len != off && (rc = flush(f)) != SQLITE_OK)
        return rc;
    if (f->len + (size_t)n > f->cap) {
        size_t cap = f->cap ? f->cap : 64 * 1024;
        while (cap < f->len + (size_t)n)
            cap *= 2;
        unsigned char *nb = realloc(f->buf, cap);
        if (nb == NULL) {
            /* no room to gather: write what is pending, then this, as they come */
            if ((rc = flush(f)) != SQLITE_OK)
                return rc;
            return f->real->pMethods->xWrite(f->real, p, n, off);
        }
        f->buf = nb;
        f->cap = cap;
    }
    if (f->len == 0)
        f->off = off;
    memcpy(f->buf + f->len, p, (size_t)n);
    f->len += (size_t)n;
    int was_commit = f->commit_page_next;
    const unsigned char *h = p;
    f->commit_page_next = n == WAL_FRAME_HEADER && (h[4] | h[5] | h[6] | h[7]) != 0;
    if ((was_commit && !f->commit_page_next) || f->len >= FLUSH_BYTES)
        return flush(f);
    return SQLITE_OK;
}

static int c_truncate(sqlite3_file *pf, sqlite3_int64 size)
{
    struct cfile *f = (struct cfile *)pf;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xTruncate(f->real, size);
}

static int c_sync(sqlite3_file *pf, int flags)
{
    struct cfile *f = (struct cfile *)pf;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xSync(f->real, flags);
}

static int c_file_size(sqlite3_file *pf, sqlite3_int64 *size)
{
    struct cfile *f = (struct cfile *)pf;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xFileSize(f->real, size);
}

static int c_lock(sqlite3_file *pf, int lock)
{
    struct cfile *f = (struct cfile *)pf;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xLock(f->real, lock);
}

static int c_unlock(sqlite3_file *pf, int lock)
{
    struct cfile *f = (struct cfile *)pf;
    int rc = flush(f);
    return rc != SQLITE_OK ? rc : f->real->pMethods->xUnlock(f->real, lock);
}

static int c_check_reserved(sqlite3_file *pf, int *out)
{
    struct cfile *f = (struct cfile *)pf;
    return f->real->pMethods->xCheckReservedLock(f->real, out);
}

static int c_file_control(sqlite3_file *pf, int op, void *arg)
{
    struct cfile *f = (struct cfile *)pf;
    int rc = flush(f);
    if (rc != SQLITE_OK)
        return rc;
    rc = f->real->pMethods->xFileControl(f->real, op, arg);
    if (op == SQLITE_FCNTL_VFSNAME && rc == SQLITE_OK)
        *(char **)arg = sqlite3_mprintf("fleetd-wal/%z", *(char **)arg);
    return rc;
}

static int c_sector_size(sqlite3_file *pf)
{
    struct cfile *f = (struct cfile *)pf;
    return f->real->pMethods->xSectorSize(f->real);
}

static int c_device_characteristics(sqlite3_file *pf)
{
    struct cfile *f = (struct cfile *)pf;
    return f->real->pMethods->xDeviceCharacteristics(f->real);
}

static int c_shm_map(sqlite3_file *pf, int pg, int pgsz, int extend, void volatile **pp)
{
    struct cfile *f = (struct cfile *)pf;
    return f->real->pMethods->xShmMap(f->real, pg, pgsz, extend, pp);
}

static int c_shm_lock(sqlite3_file *pf, int offset, int n, int flags)
{
    struct cfile *f = (struct cfile *)pf;
    return f->real->pMethods->xShmLock(f->real, offset, n, flags);
}

static void c_shm_barrier(sqlite3_file *pf)
{
    struct cfile *f = (struct cfile *)pf;
    f->real->pMethods->xShmBarrier(f->real);
}

static int c_shm_unmap(sqlite3_file *pf, int del)
{
    struct cfile *f = (struct cfile *)pf;
    return f->real->pMethods->xShmUnmap(f->real, del);
}

static int c_fetch(sqlite3_file *pf, sqlite3_int64 off, int n, void **pp)
{
    struct cfile *f = (struct cfile *)pf;
    int rc = flush(f);
    if (rc != SQLITE_OK)
        return rc;
    if (f->real->pMethods->iVersion < 3) {
        *pp = NULL;
        return SQLITE_OK;
    }
    return f->real->pMethods->xFetch(f->real, off, n, pp);
}

static int c_unfetch(sqlite3_file *pf, sqlite3_int64 off, void *p)
{
    struct cfile *f = (struct cfile *)pf;
    if (f->real->pMethods->iVersion < 3)
        return SQLITE_OK;
    return f->real->pMethods->xUnfetch(f->real, off, p);
}

static const sqlite3_io_methods shim_io = {
    3,
    c_close,
    c_read,
    c_write,
    c_truncate,
    c_sync,
    c_file_size,
    c_lock,
    c_unlock,
    c_check_reserved,
    c_file_control,
    c_sector_size,
    c_device_characteristics,
    c_shm_map,
    c_shm_lock,
    c_shm_barrier,
    c_shm_unmap,
    c_fetch,
    c_unfetch,
};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *pf, int flags, int *out_flags)
{
    sqlite3_vfs *real = vfs->pAppData;
    struct cfile *f = (struct cfile *)pf;
    memset(f, 0, sizeof(*f));
    f->real = (sqlite3_file *)(f + 1);
    int rc = real->xOpen(real, name, f->real, flags, out_flags);
    if (rc != SQLITE_OK || f->real->pMethods == NULL) {
        pf->pMethods = NULL;
        return rc;
    }
    /* the real file must offer the shared-memory methods a WAL needs */
    if (f->real->pMethods->iVersion < 2) {
        pf->pMethods = NULL;
        f->real->pMethods->xClose(f->real);
        return SQLITE_CANTOPEN;
    }
    f->wal = (flags & SQLITE_OPEN_WAL) != 0;
    pf->pMethods = &shim_io;
    return SQLITE_OK;
}

/* The rest is the real VFS's. */
#define REAL(vfs) ((sqlite3_vfs *)(vfs)->pAppData)

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
    return REAL(vfs)->xDelete(REAL(vfs), name, sync_dir);
}

static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
    return REAL(vfs)->xAccess(REAL(vfs), name, flags, out);
}

static int v_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
    return REAL(vfs)->xFullPathname(REAL(vfs), name, n, out);
}

static void *v_dl_open(sqlite3_vfs *vfs, const char *name)
{
    return REAL(vfs)->xDlOpen(REAL(vfs), name);
}

static void v_dl_error(sqlite3_vfs *vfs, int n, char *msg)
{
    REAL(vfs)->xDlError(REAL(vfs), n, msg);
}

static void (*v_dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
    return REAL(vfs)->xDlSym(REAL(vfs), h, sym);
}

static void v_dl_close(sqlite3_vfs *vfs, void *h)
{
    REAL(vfs)->xDlClose(REAL(vfs), h);
}

static int v_randomness(sqlite3_vfs *vfs, int n, char *out)
{
    return REAL(vfs)->xRandomness(REAL(vfs), n, out);
}

static int v_sleep(sqlite3_vfs *vfs, int us)
{
    return REAL(vfs)->xSleep(REAL(vfs), us);
}

static int v_current_time(sqlite3_vfs *vfs, double *out)
{
    return REAL(vfs)->xCurrentTime(REAL(vfs), out);
}

static int v_get_last_error(sqlite3_vfs *vfs, int n, char *out)
{
    return REAL(vfs)->xGetLastError ? REAL(vfs)->xGetLastError(REAL(vfs), n, out) : 0;
}

static int v_current_time_int64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
    return REAL(vfs)->xCurrentTimeInt64(REAL(vfs), out);
}

const char *store_vfs_register(void)
{
    sqlite3_vfs *real = sqlite3_vfs_find(NULL);
    if (real == NULL || real->iVersion < 2 || real->xCurrentTimeInt64 == NULL)
        return NULL; /* the default VFS serves as it is */
    shim_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(struct cfile) + real->szOsFile,
        .mxPathname = real->mxPathname,
        .zName = STORE_VFS_NAME,
        .pAppData = real,
        .xOpen = v_open,
        .xDelete = v_delete,
        .xAccess = v_access,
        .xFullPathname = v_full_pathname,
        .xDlOpen = v_dl_open,
        .xDlError = v_dl_error,
        .xDlSym = v_dl_sym,
        .xDlClose = v_dl_close,
        .xRandomness = v_randomness,
        .xSleep = v_sleep,
        .xCurrentTime = v_current_time,
        .xGetLastError = v_get_last_error,
        .xCurrentTimeInt64 = v_current_time_int64,
    };
    return sqlite3_vfs_register(&shim_vfs, 0) == SQLITE_OK ? STORE_VFS_NAME : NULL;
}
