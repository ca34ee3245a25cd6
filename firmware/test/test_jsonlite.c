#include <string.h>

#include "check.h"
#include "jsonlite.h"

static json_object_t obj;  /* large: keep it off the stack */

static int parses(const char *text)
{
    char err[64];
    return json_parse_object(text, strlen(text), &obj, err, sizeof(err));
}

static const char *error_of(const char *text)
{
    static char err[64];
    if (json_parse_object(text, strlen(text), &obj, err, sizeof(err))) {
        return "(parsed)";
    }
    return err;
}

int main(void)
{
    /* the server's config message */
    CHECK(parses("{\"type\":\"config\",\"framesize\":\"VGA\",\"quality\":80,\"fps\":15,\"vflip\":true,\"hmirror\":false}"));
    CHECK_INT(obj.count, 6);
    const json_member_t *m = json_find(&obj, "type");
    CHECK(m && m->type == JSON_STRING);
    CHECK_STR(m ? m->str : NULL, "config");
    m = json_find(&obj, "quality");
    CHECK(m && m->type == JSON_NUMBER && m->is_integer && m->integer == 80);
    m = json_find(&obj, "vflip");
    CHECK(m && m->type == JSON_TRUE);
    m = json_find(&obj, "hmirror");
    CHECK(m && m->type == JSON_FALSE);
    CHECK(json_find(&obj, "missing") == NULL);

    /* whitespace, empty object, nesting skipped, null */
    CHECK(parses(" \t\r\n{ } \n"));
    CHECK_INT(obj.count, 0);
    CHECK(parses("{\"a\" : { \"b\": [1, 2, {\"c\": null}], \"d\": \"x\" }, \"e\": [], \"f\": null}"));
    CHECK_INT(obj.count, 3);
    CHECK(json_find(&obj, "a")->type == JSON_OBJECT);
    CHECK(json_find(&obj, "e")->type == JSON_ARRAY);
    CHECK(json_find(&obj, "f")->type == JSON_NULL);

    /* numbers */
    CHECK(parses("{\"a\":-12,\"b\":0,\"c\":1.5,\"d\":2e3,\"e\":-0.25E-2,\"f\":123456789012345678901234}"));
    CHECK(json_find(&obj, "a")->is_integer && json_find(&obj, "a")->integer == -12);
    CHECK(json_find(&obj, "b")->is_integer && json_find(&obj, "b")->integer == 0);
    CHECK(!json_find(&obj, "c")->is_integer);
    CHECK_STR(json_find(&obj, "c")->str, "1.5");
    CHECK(!json_find(&obj, "d")->is_integer);
    CHECK(!json_find(&obj, "e")->is_integer);
    CHECK(!json_find(&obj, "f")->is_integer);  /* too big for an integer: still a number */
    CHECK(json_find(&obj, "f")->type == JSON_NUMBER);

    /* string escapes and unicode */
    CHECK(parses("{\"s\":\"a\\\"b\\\\c\\/d\\n\\t\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"}"));
    CHECK_STR(json_find(&obj, "s")->str, "a\"b\\c/d\n\tA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");

    /* long values and keys are truncated and flagged */
    char big[400];
    strcpy(big, "{\"k\":\"");
    memset(big + 6, 'x', 200);
    strcpy(big + 206, "\"}");
    CHECK(parses(big));
    CHECK(json_find(&obj, "k")->str_truncated);
    CHECK_INT(strlen(json_find(&obj, "k")->str), JSON_STR_MAX);
    strcpy(big, "{\"");
    memset(big + 2, 'k', 40);
    strcpy(big + 42, "\":1}");
    CHECK(parses(big));
    CHECK(obj.members[0].key_truncated);
    CHECK(json_find(&obj, obj.members[0].key) == NULL);  /* truncated keys never match */

    /* duplicate keys: find returns the first, both are kept */
    CHECK(parses("{\"a\":1,\"a\":2}"));
    CHECK_INT(obj.count, 2);
    CHECK_INT(json_find(&obj, "a")->integer, 1);

    /* invalid input, each with a reason */
    CHECK_STR(error_of(""), "not a JSON object");
    CHECK_STR(error_of("[1,2]"), "not a JSON object");
    CHECK_STR(error_of("\"str\""), "not a JSON object");
    CHECK_STR(error_of("{"), "expected a string");
    CHECK_STR(error_of("{\"a\":1"), "expected ',' or '}'");
    CHECK_STR(error_of("{\"a\" 1}"), "expected ':'");
    CHECK_STR(error_of("{\"a\":}"), "bad number");
    CHECK_STR(error_of("{\"a\":1,}"), "expected a string");
    CHECK_STR(error_of("{a:1}"), "expected a string");
    CHECK_STR(error_of("{'a':1}"), "expected a string");
    CHECK_STR(error_of("{\"a\":1} x"), "trailing characters after the object");
    CHECK_STR(error_of("{\"a\":1}{}"), "trailing characters after the object");
    CHECK_STR(error_of("{\"a\":01}"), "bad number (leading zero)");
    CHECK_STR(error_of("{\"a\":1.}"), "bad number");
    CHECK_STR(error_of("{\"a\":.5}"), "bad number");
    CHECK_STR(error_of("{\"a\":1e}"), "bad number");
    CHECK_STR(error_of("{\"a\":-}"), "bad number");
    CHECK_STR(error_of("{\"a\":+1}"), "bad number");
    CHECK_STR(error_of("{\"a\":tru}"), "invalid literal");
    CHECK_STR(error_of("{\"a\":True}"), "bad number");
    CHECK_STR(error_of("{\"a\":nul}"), "invalid literal");
    CHECK_STR(error_of("{\"a\":\"abc}"), "unterminated string");
    CHECK_STR(error_of("{\"a\":\"a\nb\"}"), "control character in string");
    CHECK_STR(error_of("{\"a\":\"\\x\"}"), "bad escape in string");
    CHECK_STR(error_of("{\"a\":\"\\u12\"}"), "bad \\u escape");
    CHECK_STR(error_of("{\"a\":\"\\u12G4\"}"), "bad \\u escape");
    CHECK_STR(error_of("{\"a\":\"\\u0000\"}"), "NUL character in string");
    CHECK_STR(error_of("{\"a\":\"\\ud83d\"}"), "unpaired surrogate");
    CHECK_STR(error_of("{\"a\":\"\\ude00\"}"), "unpaired surrogate");
    CHECK_STR(error_of("{\"a\":\"\\ud83d\\u0041\"}"), "unpaired surrogate");
    CHECK_STR(error_of("{\"a\":[1,2}"), "expected ',' or ']'");
    CHECK_STR(error_of("{\"a\":{\"b\" 1}}"), "expected ':'");
    CHECK_STR(error_of("{\"a\":[[[[[[[[[[[[1]]]]]]]]]]]]}"), "nesting too deep");
    CHECK_STR(error_of("{\"a\":\"x\\"), "unterminated string");
    /* embedded NUL in the input buffer */
    CHECK(!json_parse_object("{\"a\":1}\0", 8, &obj, NULL, 0));
    CHECK(!json_parse_object(NULL, 0, &obj, NULL, 0));
    /* after a failure the object is empty */
    CHECK_INT(obj.count, 0);
    /* too many members */
    char many[600] = "{";
    for (int i = 0; i <= JSON_MAX_MEMBERS; i++) {
        char part[16];
        snprintf(part, sizeof(part), "%s\"k%d\":%d", i ? "," : "", i, i);
        strcat(many, part);
    }
    strcat(many, "}");
    CHECK_STR(error_of(many), "too many members");
    /* length is honoured: the parser stops at len, not at the NUL */
    CHECK(json_parse_object("{\"a\":1}garbage", 7, &obj, NULL, 0));

    CHECK_STR(json_type_name(JSON_STRING), "string");
    CHECK_STR(json_type_name(JSON_TRUE), "boolean");
    CHECK_STR(json_type_name(JSON_ARRAY), "array");

    /* writer */
    char buf[256];
    json_writer_t w;
    jw_init(&w, buf, sizeof(buf));
    jw_object_begin(&w);
    jw_key(&w, "type");
    jw_string(&w, "x\"y\\z\n\x01");
    jw_key(&w, "n");
    jw_int(&w, -9223372036854775807LL - 1);
    jw_key(&w, "o");
    jw_object_begin(&w);
    jw_object_end(&w);
    jw_key(&w, "p");
    jw_object_begin(&w);
    jw_key(&w, "b");
    jw_bool(&w, true);
    jw_key(&w, "c");
    jw_bool(&w, false);
    jw_key(&w, "z");
    jw_int(&w, 0);
    jw_object_end(&w);
    jw_object_end(&w);
    CHECK(jw_ok(&w));
    CHECK_STR(buf, "{\"type\":\"x\\\"y\\\\z\\n\\u0001\",\"n\":-9223372036854775808,\"o\":{},\"p\":{\"b\":true,\"c\":false,\"z\":0}}");
    /* the writer's output parses back */
    CHECK(parses(buf));
    CHECK_STR(json_find(&obj, "type")->str, "x\"y\\z\n\x01");

    /* arrays: values without keys, nested in objects and arrays */
    jw_init(&w, buf, sizeof(buf));
    jw_object_begin(&w);
    jw_key(&w, "a");
    jw_array_begin(&w);
    jw_string(&w, "QVGA");
    jw_string(&w, "VGA");
    jw_array_end(&w);
    jw_key(&w, "b");
    jw_array_begin(&w);
    jw_bool(&w, false);
    jw_bool(&w, true);
    jw_array_begin(&w);
    jw_array_end(&w);
    jw_object_begin(&w);
    jw_key(&w, "min");
    jw_int(&w, 1);
    jw_object_end(&w);
    jw_array_end(&w);
    jw_key(&w, "e");
    jw_array_begin(&w);
    jw_array_end(&w);
    jw_object_end(&w);
    CHECK(jw_ok(&w));
    CHECK_STR(buf, "{\"a\":[\"QVGA\",\"VGA\"],\"b\":[false,true,[],{\"min\":1}],\"e\":[]}");
    CHECK(parses(buf));
    CHECK_INT(json_find(&obj, "a")->type, JSON_ARRAY);
    CHECK_INT(json_find(&obj, "e")->type, JSON_ARRAY);
    /* closing the wrong kind is an error */
    jw_init(&w, buf, sizeof(buf));
    jw_object_begin(&w);
    jw_key(&w, "a");
    jw_array_begin(&w);
    jw_object_end(&w);
    jw_object_end(&w);
    CHECK(!jw_ok(&w));
    jw_init(&w, buf, sizeof(buf));
    jw_array_begin(&w);
    jw_object_end(&w);
    CHECK(!jw_ok(&w));
    jw_init(&w, buf, sizeof(buf));
    jw_array_end(&w);
    CHECK(!jw_ok(&w));

    /* overflow is reported, the buffer stays terminated */
    char small[8];
    jw_init(&w, small, sizeof(small));
    jw_object_begin(&w);
    jw_key(&w, "long key");
    jw_int(&w, 1);
    jw_object_end(&w);
    CHECK(!jw_ok(&w));
    CHECK(strlen(small) < sizeof(small));
    /* unbalanced objects are not ok */
    jw_init(&w, buf, sizeof(buf));
    jw_object_begin(&w);
    CHECK(!jw_ok(&w));
    jw_init(&w, buf, sizeof(buf));
    jw_object_end(&w);
    CHECK(!jw_ok(&w));
    jw_init(&w, NULL, 0);
    jw_object_begin(&w);
    CHECK(!jw_ok(&w));
    return check_report("test_jsonlite");
}
