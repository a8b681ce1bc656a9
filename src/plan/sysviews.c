/* sysviews.c: information_schema and pg_catalog, the handful of system views that tools read to list
 * tables and columns with SQL (SQLAlchemy's and psql's reflection, BI tools' schema browsers). Each is made
 * from the catalog when a query names it, as a node whose rows are ready; its columns carry PostgreSQL's
 * names and the values PostgreSQL shows for the same schema (one schema, "public"). Views (CREATE VIEW) are
 * listed with the tables (table_type VIEW, relkind 'v'), their columns as planning their query gives them.
 * Names: information_schema.tables, .columns, .schemata, .views; pg_catalog.pg_tables, pg_views,
 * pg_namespace, pg_class, pg_attribute, pg_type (pg_catalog's also unqualified, as PostgreSQL's search path
 * finds them, when no table has the name). */
#include "plan_int.h"
#include "store/store.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { C_TEXT, C_INT, C_BOOL, C_BIGINT };

typedef struct sysview {
    const char *name;
    const char *const *cols;
    const int *types;
    int ncols;
} sysview;

static const char *const T_COLS[] = {"table_catalog", "table_schema", "table_name", "table_type",
                                     "self_referencing_column_name", "reference_generation",
                                     "user_defined_type_catalog", "user_defined_type_schema", "user_defined_type_name",
                                     "is_insertable_into", "is_typed", "commit_action"};
static const int T_TYPES[] = {C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_TEXT};
static const char *const C_COLS[] = {"table_catalog", "table_schema", "table_name", "column_name", "ordinal_position",
                                     "column_default", "is_nullable", "data_type", "character_maximum_length",
                                     "numeric_precision", "numeric_precision_radix", "numeric_scale",
                                     "datetime_precision", "udt_catalog", "udt_schema", "udt_name"};
static const int C_TYPES[] = {C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_INT, C_TEXT, C_TEXT, C_TEXT, C_INT, C_INT, C_INT,
                              C_INT, C_INT, C_TEXT, C_TEXT, C_TEXT};
static const char *const S_COLS[] = {"catalog_name", "schema_name", "schema_owner"};
static const int S_TYPES[] = {C_TEXT, C_TEXT, C_TEXT};
static const char *const PT_COLS[] = {"schemaname", "tablename", "tableowner", "tablespace", "hasindexes", "hasrules",
                                      "hastriggers", "rowsecurity"};
static const int PT_TYPES[] = {C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_BOOL, C_BOOL, C_BOOL, C_BOOL};
static const char *const NS_COLS[] = {"oid", "nspname"};
static const int NS_TYPES[] = {C_BIGINT, C_TEXT};
static const char *const CL_COLS[] = {"oid", "relname", "relnamespace", "relkind", "reltuples", "relnatts",
                                      "relpersistence"};
static const int CL_TYPES[] = {C_BIGINT, C_TEXT, C_BIGINT, C_TEXT, C_BIGINT, C_INT, C_TEXT};
static const char *const AT_COLS[] = {"attrelid", "attname", "atttypid", "attnum", "attnotnull", "attisdropped"};
static const int AT_TYPES[] = {C_BIGINT, C_TEXT, C_BIGINT, C_INT, C_BOOL, C_BOOL};
static const char *const TY_COLS[] = {"oid", "typname"};
static const int TY_TYPES[] = {C_BIGINT, C_TEXT};
static const char *const V_COLS[] = {"table_catalog", "table_schema", "table_name", "view_definition", "check_option",
                                     "is_updatable", "is_insertable_into", "is_trigger_updatable",
                                     "is_trigger_deletable", "is_trigger_insertable_into"};
static const int V_TYPES[] = {C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_TEXT, C_TEXT};
static const char *const PV_COLS[] = {"schemaname", "viewname", "viewowner", "definition"};
static const int PV_TYPES[] = {C_TEXT, C_TEXT, C_TEXT, C_TEXT};

#define VIEW(n, c, t) {n, c, t, (int)ARRAY_LEN(c)}
static const sysview VIEWS[] = {
    VIEW("information_schema.tables", T_COLS, T_TYPES),     VIEW("information_schema.columns", C_COLS, C_TYPES),
    VIEW("information_schema.schemata", S_COLS, S_TYPES),   VIEW("pg_catalog.pg_tables", PT_COLS, PT_TYPES),
    VIEW("pg_catalog.pg_namespace", NS_COLS, NS_TYPES),     VIEW("pg_catalog.pg_class", CL_COLS, CL_TYPES),
    VIEW("pg_catalog.pg_attribute", AT_COLS, AT_TYPES),     VIEW("pg_catalog.pg_type", TY_COLS, TY_TYPES),
    VIEW("information_schema.views", V_COLS, V_TYPES),      VIEW("pg_catalog.pg_views", PV_COLS, PV_TYPES),
};

/* PostgreSQL's oids for the types factdb has, and the public namespace's. A view's oid is VIEW_OID_BASE plus
 * a hash of its name (views have no id; the same view has the same oid in every system view). */
enum { NS_PUBLIC = 2200, NS_CATALOG = 11, NS_INFO = 13000, TABLE_OID_BASE = 16384, VIEW_OID_BASE = 1 << 30 };

/* A view's column of type interval (no table column has that type). */
#define FT_INTERVAL ((factdb_type)100)

static int type_oid(factdb_type t)
{
    if (t == FT_INTERVAL)
        return 1186;
    switch (t) {
    case FACTDB_BOOLEAN: return 16;
    case FACTDB_INTEGER: return 23;
    case FACTDB_BIGINT: return 20;
    case FACTDB_DOUBLE: return 701;
    case FACTDB_TEXT: return 25;
    case FACTDB_DATE: return 1082;
    case FACTDB_TIMESTAMP: return 1114;
    case FACTDB_TIMESTAMPTZ: return 1184;
    default: return 1700;  /* numeric */
    }
}

static const char *data_type(factdb_type t)
{
    if (t == FT_INTERVAL)
        return "interval";
    switch (t) {
    case FACTDB_BOOLEAN: return "boolean";
    case FACTDB_INTEGER: return "integer";
    case FACTDB_BIGINT: return "bigint";
    case FACTDB_DOUBLE: return "double precision";
    case FACTDB_TEXT: return "text";
    case FACTDB_DATE: return "date";
    case FACTDB_TIMESTAMP: return "timestamp without time zone";
    case FACTDB_TIMESTAMPTZ: return "timestamp with time zone";
    default: return "numeric";
    }
}

static const char *udt_name(factdb_type t)
{
    if (t == FT_INTERVAL)
        return "interval";
    switch (t) {
    case FACTDB_BOOLEAN: return "bool";
    case FACTDB_INTEGER: return "int4";
    case FACTDB_BIGINT: return "int8";
    case FACTDB_DOUBLE: return "float8";
    case FACTDB_TEXT: return "text";
    case FACTDB_DATE: return "date";
    case FACTDB_TIMESTAMP: return "timestamp";
    case FACTDB_TIMESTAMPTZ: return "timestamptz";
    default: return "numeric";
    }
}

static const sysview *find_view(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(VIEWS); i++) {
        const char *v = VIEWS[i].name;
        if (!strcmp(v, name))
            return &VIEWS[i];
        /* pg_catalog's views unqualified */
        if (!strncmp(v, "pg_catalog.", 11) && !strcmp(v + 11, name))
            return &VIEWS[i];
    }
    return NULL;
}

bool pl_sysview_exists(const char *name) { return find_view(name) != NULL; }

/* Values of one row: text (NULL pointer: NULL) or numbers. */
typedef struct cell {
    const char *s;
    int64_t i;
    bool null;
} cell;

static int add_row(plan_ctx *c, rowset *rs, const sysview *v, const cell *cells)
{
    sql_value vals[32];
    for (int i = 0; i < v->ncols; i++) {
        memset(&vals[i], 0, sizeof vals[i]);
        vals[i].type = rs->cols[i].type;
        if (cells[i].null || (v->types[i] == C_TEXT && !cells[i].s)) {
            vals[i].null = true;
            continue;
        }
        if (v->types[i] == C_TEXT)
            vals[i].s = (sql_str){cells[i].s, strlen(cells[i].s)};
        else
            vals[i].i = cells[i].i;
    }
    return rowset_add_row(rs, vals, c->err);
}

#define TXT(x) ((cell){.s = (x)})
#define NUM(x) ((cell){.i = (x)})
#define NUL ((cell){.null = true})
#define YESNO(b) TXT((b) ? "YES" : "NO")

/* The views, as tables to list: columns from planning each view (none when it cannot be planned now,
 * e.g. a table it reads was dropped), its text in sql[]. */
typedef struct view_set {
    factdb_table_info *info;
    char **sql;
    size_t n, cap;
} view_set;

static void view_set_free(view_set *vs)
{
    for (size_t i = 0; i < vs->n; i++) {
        free(vs->info[i].cols);
        free(vs->sql[i]);
    }
    free(vs->info);
    free(vs->sql);
}

static int64_t view_oid(const char *name)
{
    uint32_t h = 2166136261u;  /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return VIEW_OID_BASE + (int64_t)(h & 0x3fffffff);
}

static factdb_type ftype_of(sql_type t)
{
    switch (t.id) {
    case TY_BOOL: return FACTDB_BOOLEAN;
    case TY_INT: return FACTDB_INTEGER;
    case TY_BIGINT: return FACTDB_BIGINT;
    case TY_DOUBLE: return FACTDB_DOUBLE;
    case TY_NUMERIC: return FACTDB_DECIMAL;
    case TY_DATE: return FACTDB_DATE;
    case TY_TIMESTAMP: return FACTDB_TIMESTAMP;
    case TY_TIMESTAMPTZ: return FACTDB_TIMESTAMPTZ;
    case TY_INTERVAL: return FT_INTERVAL;
    default: return FACTDB_TEXT;
    }
}

typedef struct view_names {
    plan_ctx *c;
    view_set *vs;
} view_names;

static int add_view_name(void *ctx, const char *name)
{
    view_names *w = ctx;
    view_set *vs = w->vs;
    if (vs->n == vs->cap) {
        size_t cap = vs->cap ? vs->cap * 2 : 8;
        factdb_table_info *i = realloc(vs->info, cap * sizeof *i);
        if (i)
            vs->info = i;
        char **q = realloc(vs->sql, cap * sizeof *q);
        if (q)
            vs->sql = q;
        if (!i || !q)
            return pl_nomem(w->c);
        vs->cap = cap;
    }
    memset(&vs->info[vs->n], 0, sizeof vs->info[vs->n]);
    snprintf(vs->info[vs->n].name, sizeof vs->info[vs->n].name, "%s", name);
    vs->sql[vs->n++] = NULL;
    return 0;
}

/* Fills vs with every view, its text, and (cols) its columns. */
static int view_set_get(plan_ctx *c, bool cols, view_set *vs)
{
    store_txn *t;
    bool borrowed;
    int rc = store_txn_read_db(c->db, &t, &borrowed, c->err);
    if (rc)
        return rc;
    view_names w = {c, vs};
    rc = store_view_each(t, add_view_name, &w, c->err);
    for (size_t i = 0; i < vs->n && !rc; i++) {
        store_view sv;
        if (!(rc = store_view_get(t, vs->info[i].name, &sv, c->err))) {
            if (!(vs->sql[i] = malloc(sv.len + 1)))
                rc = pl_nomem(c);
            else
                memcpy(vs->sql[i], sv.sql, sv.len), vs->sql[i][sv.len] = 0;
            store_view_free(&sv);
        }
    }
    store_txn_end(t, borrowed);
    for (size_t i = 0; i < vs->n && !rc && cols; i++) {
        plan_node *n;
        char **names;
        int nnames, saved = c->views_expanded;
        if (pl_view(c, vs->info[i].name, 1, &n, &names, &nnames)) {
            if (c->err->code == FACTDB_NOMEM)
                return c->err->code;
            base_err_clear(c->err);  /* listed without columns */
            c->views_expanded = saved;
            continue;
        }
        c->views_expanded = saved;
        factdb_table_info *ti = &vs->info[i];
        if (!(ti->cols = calloc((size_t)(n->ncols ? n->ncols : 1), sizeof *ti->cols)))
            return pl_nomem(c);
        ti->ncols = (size_t)n->ncols;
        for (int k = 0; k < n->ncols; k++) {
            snprintf(ti->cols[k].name, sizeof ti->cols[k].name, "%s", k < nnames ? names[k] : n->names[k]);
            ti->cols[k].type = ftype_of(n->types[k]);
        }
    }
    return rc;
}

static int fill(plan_ctx *c, const sysview *v, rowset *rs, const factdb_table_info *list, size_t n,
                const view_set *vs)
{
    const char *view = strchr(v->name, '.') + 1;
    int rc = 0;
    if (!strcmp(view, "schemata")) {
        const char *names[] = {"information_schema", "pg_catalog", "public"};
        for (size_t i = 0; i < ARRAY_LEN(names) && !rc; i++) {
            cell r[] = {TXT("factdb"), TXT(names[i]), TXT("factdb")};
            rc = add_row(c, rs, v, r);
        }
        return rc;
    }
    if (!strcmp(view, "pg_namespace")) {
        cell r1[] = {NUM(NS_CATALOG), TXT("pg_catalog")}, r2[] = {NUM(NS_PUBLIC), TXT("public")},
             r3[] = {NUM(NS_INFO), TXT("information_schema")};
        if ((rc = add_row(c, rs, v, r1)) || (rc = add_row(c, rs, v, r2)))
            return rc;
        return add_row(c, rs, v, r3);
    }
    if (!strcmp(view, "pg_type")) {
        static const factdb_type all[] = {FACTDB_BOOLEAN, FACTDB_INTEGER, FACTDB_BIGINT, FACTDB_DOUBLE, FACTDB_TEXT,
                                          FACTDB_DATE, FACTDB_TIMESTAMP, FACTDB_TIMESTAMPTZ, FACTDB_DECIMAL};
        for (size_t i = 0; i < ARRAY_LEN(all) && !rc; i++) {
            cell r[] = {NUM(type_oid(all[i])), TXT(udt_name(all[i]))};
            rc = add_row(c, rs, v, r);
        }
        return rc;
    }
    for (size_t t = 0; t < n + vs->n && !rc; t++) {
        bool isview = t >= n;
        const factdb_table_info *ti = isview ? &vs->info[t - n] : &list[t];
        int64_t oid = isview ? view_oid(ti->name) : TABLE_OID_BASE + (int64_t)ti->id;
        if (!strcmp(view, "tables")) {
            cell r[] = {TXT("factdb"), TXT("public"), TXT(ti->name), TXT(isview ? "VIEW" : "BASE TABLE"), NUL, NUL,
                        NUL, NUL, NUL, TXT(isview ? "NO" : "YES"), TXT("NO"), NUL};
            rc = add_row(c, rs, v, r);
        } else if (!strcmp(view, "pg_tables")) {
            cell r[] = {TXT("public"), TXT(ti->name), TXT("factdb"), NUL, NUM(0), NUM(0), NUM(0), NUM(0)};
            if (!isview)
                rc = add_row(c, rs, v, r);
        } else if (!strcmp(view, "views")) {
            cell r[] = {TXT("factdb"), TXT("public"), TXT(ti->name), TXT(isview ? vs->sql[t - n] : NULL),
                        TXT("NONE"), TXT("NO"), TXT("NO"), TXT("NO"), TXT("NO"), TXT("NO")};
            if (isview)
                rc = add_row(c, rs, v, r);
        } else if (!strcmp(view, "pg_views")) {
            cell r[] = {TXT("public"), TXT(ti->name), TXT("factdb"), TXT(isview ? vs->sql[t - n] : NULL)};
            if (isview)
                rc = add_row(c, rs, v, r);
        } else if (!strcmp(view, "pg_class")) {
            cell r[] = {NUM(oid), TXT(ti->name), NUM(NS_PUBLIC), TXT(isview ? "v" : "r"),
                        NUM(isview ? -1 : (int64_t)ti->row_count), NUM((int64_t)ti->ncols), TXT("p")};
            rc = add_row(c, rs, v, r);
        } else {
            for (size_t k = 0; k < ti->ncols && !rc; k++) {
                const factdb_column_info *ci = &ti->cols[k];
                if (!strcmp(view, "pg_attribute")) {
                    cell r[] = {NUM(oid), TXT(ci->name), NUM(type_oid(ci->type)), NUM((int64_t)k + 1),
                                NUM(ci->not_null), NUM(0)};
                    rc = add_row(c, rs, v, r);
                    continue;
                }
                bool num = ci->type == FACTDB_DECIMAL, integer = ci->type == FACTDB_INTEGER || ci->type == FACTDB_BIGINT;
                bool dbl = ci->type == FACTDB_DOUBLE;
                bool ts = ci->type == FACTDB_TIMESTAMP || ci->type == FACTDB_TIMESTAMPTZ || ci->type == FACTDB_DATE;
                cell prec = integer ? NUM(ci->type == FACTDB_INTEGER ? 32 : 64) : dbl ? NUM(53)
                            : num && ci->precision > 0 ? NUM(ci->precision) : NUL;
                cell radix = integer || dbl ? NUM(2) : num ? NUM(10) : NUL;
                cell scale = integer ? NUM(0) : num && ci->precision > 0 ? NUM(ci->scale) : NUL;
                cell dtp = ts ? NUM(ci->type == FACTDB_DATE ? 0 : 6) : NUL;
                cell r[] = {TXT("factdb"), TXT("public"), TXT(ti->name), TXT(ci->name), NUM((int64_t)k + 1), NUL,
                            YESNO(!ci->not_null), TXT(data_type(ci->type)), NUL, prec, radix, scale, dtp,
                            TXT("factdb"), TXT("pg_catalog"), TXT(udt_name(ci->type))};
                rc = add_row(c, rs, v, r);
            }
        }
    }
    return rc;
}

int pl_sysview(plan_ctx *c, const char *name, plan_node **out)
{
    const sysview *v = find_view(name);
    if (!v)
        return pl_perr(c, FACTDB_NO_TABLE, 1, "relation \"%s\" does not exist", name);
    plan_node *n = pl_new_node(c, PN_QUERY);
    rowset *rs = calloc(1, sizeof *rs);
    if (!n || !rs) {
        free(rs);
        return pl_nomem(c);
    }
    sql_type types[32];
    n->ncols = v->ncols;
    n->types = pl_alloc(c, (size_t)v->ncols * sizeof *n->types);
    n->names = pl_alloc(c, (size_t)v->ncols * sizeof *n->names);
    n->quals = pl_alloc(c, (size_t)v->ncols * sizeof *n->quals);
    if (!n->types || !n->names || !n->quals) {
        free(rs);
        return pl_nomem(c);
    }
    for (int i = 0; i < v->ncols; i++) {
        static const sql_type map[] = {[C_TEXT] = {TY_TEXT, 0, 0}, [C_INT] = {TY_INT, 0, 0},
                                       [C_BOOL] = {TY_BOOL, 0, 0}, [C_BIGINT] = {TY_BIGINT, 0, 0}};
        types[i] = n->types[i] = map[v->types[i]];
        n->names[i] = (char *)v->cols[i];
    }
    if (rowset_init(rs, v->ncols, types, NULL, 0, c->err)) {
        free(rs);
        return c->err->code;
    }
    int rc = pl_keep_rowset(c, rs);
    if (rc) {
        exec_rowset_free(rs);
        return rc;
    }
    factdb_table_info *list = NULL;
    size_t nt = 0;
    if ((rc = factdb_table_list(c->db, &list, &nt, c->err)))
        return rc;
    /* the views: their columns only where columns are listed (planning each view costs) */
    view_set vs = {0};
    const char *what = strchr(v->name, '.') + 1;
    bool cols = !strcmp(what, "columns") || !strcmp(what, "pg_attribute") || !strcmp(what, "pg_class");
    if (strcmp(what, "schemata") && strcmp(what, "pg_namespace") && strcmp(what, "pg_type") &&
        strcmp(what, "pg_tables"))
        rc = view_set_get(c, cols, &vs);
    if (!rc)
        rc = fill(c, v, rs, list, nt, &vs);
    view_set_free(&vs);
    factdb_table_list_free(list, nt);
    if (rc)
        return rc;
    n->rs = rs;
    n->rows = rs->n;
    n->done = true;
    n->q.limit = -1;
    n->label = v->name;
    n->est = (double)rs->n;
    *out = n;
    return 0;
}
