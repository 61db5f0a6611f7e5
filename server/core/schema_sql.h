/* schema_sql.h - the migrations embedded from schema/ (see schema/embed.sh). */
#ifndef FL_SCHEMA_SQL_H
#define FL_SCHEMA_SQL_H

struct schema_migration {
    int version;      /* NNN of schema/NNN_name.sql */
    const char *name; /* NNN_name */
    const char *sql;
};

extern const struct schema_migration schema_migrations[];
extern const int schema_migrations_count;

#endif
