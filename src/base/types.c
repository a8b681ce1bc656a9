/* types.c: type names and the text form of values, shared by the CLI, loaders and outputs. */
#include "base.h"
#include <stdio.h>
#include <string.h>

const char *factdb_type_name(factdb_type type, int precision, int scale, char *buf, size_t cap)
{
    const char *n;
    switch (type) {
    case FACTDB_BOOLEAN: n = "boolean"; break;
    case FACTDB_INTEGER: n = "integer"; break;
    case FACTDB_BIGINT: n = "bigint"; break;
    case FACTDB_DOUBLE: n = "double precision"; break;
    case FACTDB_DECIMAL:
        snprintf(buf, cap, "numeric(%d,%d)", precision, scale);
        return buf;
    case FACTDB_TEXT: n = "text"; break;
    case FACTDB_DATE: n = "date"; break;
    case FACTDB_TIMESTAMP: n = "timestamp"; break;
    case FACTDB_TIMESTAMPTZ: n = "timestamp with time zone"; break;
    default: n = "unknown"; break;
    }
    snprintf(buf, cap, "%s", n);
    return buf;
}

size_t factdb_format_value(factdb_type type, int scale, int64_t v, char *buf, size_t cap)
{
    switch (type) {
    case FACTDB_BOOLEAN: return (size_t)snprintf(buf, cap, "%s", v ? "true" : "false");
    case FACTDB_INTEGER: case FACTDB_BIGINT: case FACTDB_TEXT:
        return (size_t)snprintf(buf, cap, "%lld", (long long)v);
    case FACTDB_DOUBLE: {
        double d;
        memcpy(&d, &v, 8);
        return base_format_double(d, buf, cap);
    }
    case FACTDB_DECIMAL: return base_format_decimal(v, scale, buf, cap);
    case FACTDB_DATE: return base_format_date((int32_t)v, buf, cap);
    case FACTDB_TIMESTAMP: return base_format_timestamp(v, buf, cap);
    case FACTDB_TIMESTAMPTZ: return base_format_timestamptz(v, buf, cap);
    }
    return 0;
}
