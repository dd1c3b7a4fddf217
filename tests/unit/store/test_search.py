"""The search language parser (bakehouse.store.search): grammar, aliases, precedence, errors, page tokens."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bakehouse.errors import ErrorCode, InvalidParameterError
from bakehouse.store.page_token import decode_page_token, encode_page_token
from bakehouse.store.search import (
    ENTITIES,
    And,
    Comparison,
    Or,
    OrderKey,
    comparisons,
    parse_filter,
    parse_logged_model_order_by,
    parse_order_by,
)

C = Comparison


def run(text: str):
    return parse_filter("run", text)


def error(entity: str, text: str) -> str:
    with pytest.raises(InvalidParameterError) as info:
        parse_filter(entity, text)
    assert info.value.code == ErrorCode.INVALID_PARAMETER_VALUE
    return info.value.message


# ---------------------------------------------------------------------------------------- basics


@pytest.mark.parametrize("text", [None, "", "   ", "\n\t"])
def test_empty_filter_is_none(text: str | None) -> None:
    assert parse_filter("run", text) is None


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_every_numeric_operator_on_metrics(op: str) -> None:
    assert run(f"metrics.acc {op} 0.5") == C("metric", "acc", op, 0.5)


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("1", 1.0),
        ("-2", -2.0),
        ("+3", 3.0),
        ("1.5", 1.5),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e3", 1000.0),
        ("-1.5E-3", -0.0015),
        ("2e+2", 200.0),
        ("1e400", float("inf")),
    ],
)
def test_numeric_literals(literal: str, value: float) -> None:
    assert run(f"metrics.m > {literal}") == C("metric", "m", ">", value)


def test_metric_values_are_floats_and_numeric_attributes_keep_integers() -> None:
    assert run("metrics.m = 3").value == 3.0 and isinstance(run("metrics.m = 3").value, float)
    assert run("start_time >= 1700000000000") == C("attribute", "start_time", ">=", 1700000000000)
    assert isinstance(run("start_time >= 1700000000000").value, int)
    assert run("end_time < 1.5") == C("attribute", "end_time", "<", 1.5)
    # beyond 64 bits an integer literal becomes a float instead of overflowing a BIGINT bind
    assert run("start_time > 99999999999999999999999").value == 1e23


@pytest.mark.parametrize("op", ["=", "!=", "LIKE", "ILIKE"])
@pytest.mark.parametrize("prefix,kind", [("params", "param"), ("tags", "tag")])
def test_string_operators_on_params_and_tags(op: str, prefix: str, kind: str) -> None:
    assert run(f"{prefix}.k {op} 'v%'") == C(kind, "k", op, "v%")


@pytest.mark.parametrize("prefix,kind", [("params", "param"), ("tags", "tag")])
def test_is_null_and_is_not_null(prefix: str, kind: str) -> None:
    assert run(f"{prefix}.k IS NULL") == C(kind, "k", "IS NULL", None)
    assert run(f"{prefix}.k is not null") == C(kind, "k", "IS NOT NULL", None)


def test_in_and_not_in_on_run_id() -> None:
    assert run("attributes.run_id IN ('a', 'b')") == C("attribute", "run_id", "IN", ("a", "b"))
    assert run('run_id not in ("a",)') == C("attribute", "run_id", "NOT IN", ("a",))
    assert run("run_id IN('x')") == C("attribute", "run_id", "IN", ("x",))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metric.a = 1", C("metric", "a", "=", 1.0)),
        ("metrics.a = 1", C("metric", "a", "=", 1.0)),
        ("param.a = 'x'", C("param", "a", "=", "x")),
        ("params.a = 'x'", C("param", "a", "=", "x")),
        ("parameter.a = 'x'", C("param", "a", "=", "x")),
        ("parameters.a = 'x'", C("param", "a", "=", "x")),
        ("tag.a = 'x'", C("tag", "a", "=", "x")),
        ("tags.a = 'x'", C("tag", "a", "=", "x")),
        ("attribute.status = 'x'", C("attribute", "status", "=", "x")),
        ("attributes.status = 'x'", C("attribute", "status", "=", "x")),
        ("attr.status = 'x'", C("attribute", "status", "=", "x")),
        ("run.status = 'x'", C("attribute", "status", "=", "x")),
        ("dataset.name = 'x'", C("dataset", "name", "=", "x")),
        ("datasets.digest = 'x'", C("dataset", "digest", "=", "x")),
        ("Metrics.a = 1", C("metric", "a", "=", 1.0)),  # prefixes are case-insensitive (MLflow: not)
    ],
)
def test_type_aliases(text: str, expected: Comparison) -> None:
    assert run(text) == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("run_id = 'a'", "run_id"),
        ("run_name = 'a'", "run_name"),
        ("`run name` = 'a'", "run_name"),
        ("\"run name\" = 'a'", "run_name"),
        ("`Run Name` = 'a'", "run_name"),
        ("status = 'a'", "status"),
        ("user_id = 'a'", "user_id"),
        ("artifact_uri = 'a'", "artifact_uri"),
        ("lifecycle_stage = 'a'", "lifecycle_stage"),
    ],
)
def test_run_string_attributes_and_aliases(text: str, key: str) -> None:
    assert run(text) == C("attribute", key, "=", "a")


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("start_time", "start_time"),
        ("end_time", "end_time"),
        ("created", "start_time"),
        ("Created", "start_time"),
    ],
)
def test_run_numeric_attributes_and_aliases(name: str, key: str) -> None:
    assert run(f"{name} > 5") == C("attribute", key, ">", 5)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("tags.`mlflow.source.type` = 'x'", "mlflow.source.type"),
        ("tags.\"mlflow.source.type\" = 'x'", "mlflow.source.type"),
        ("tags.mlflow.source.type = 'x'", "mlflow.source.type"),
        ("tags.`with space` = 'x'", "with space"),
        ("tags.`a=b` = 'x'", "a=b"),
        ("tags.a-b/c:d = 'x'", "a-b/c:d"),
        ("tags.`ключ` = 'x'", "ключ"),
        ("tags.ключ = 'x'", "ключ"),
        ("`tags`.`k` = 'x'", "k"),
    ],
)
def test_quoted_and_dotted_keys(text: str, key: str) -> None:
    assert run(text) == C("tag", key, "=", "x")


@pytest.mark.parametrize(
    ("literal", "value"),
    [
        ("'plain'", "plain"),
        ('"double"', "double"),
        ("'it''s'", "it's"),
        ("'it\\'s'", "it's"),
        ('"say ""hi"""', 'say "hi"'),
        ("'C:\\Users\\me'", "C:\\Users\\me"),
        ("'back\\\\slash'", "back\\slash"),
        ("''", ""),
        ("'a AND b OR c'", "a AND b OR c"),
        ("'(x)'", "(x)"),
        ("'ünï ☃'", "ünï ☃"),
    ],
)
def test_string_literals(literal: str, value: str) -> None:
    assert run(f"params.p = {literal}") == C("param", "p", "=", value)


def test_whitespace_is_optional_around_operators() -> None:
    assert run("metrics.acc>=1") == C("metric", "acc", ">=", 1.0)
    assert run("params.p!='x'") == C("param", "p", "!=", "x")
    assert run("  tags.t   LIKE   'x'  ") == C("tag", "t", "LIKE", "x")


def test_alternative_operator_spellings() -> None:
    assert run("metrics.a == 1") == C("metric", "a", "=", 1.0)
    assert run("metrics.a <> 1") == C("metric", "a", "!=", 1.0)


# ----------------------------------------------------------------------------------- AND / OR


def test_and_is_a_flat_conjunction() -> None:
    assert run("metrics.a > 1 AND params.b = 'x' and tags.c != 'y'") == And(
        (C("metric", "a", ">", 1.0), C("param", "b", "=", "x"), C("tag", "c", "!=", "y"))
    )


def test_and_binds_tighter_than_or() -> None:
    assert run("metrics.a > 1 OR metrics.b > 2 AND metrics.c > 3") == Or(
        (C("metric", "a", ">", 1.0), And((C("metric", "b", ">", 2.0), C("metric", "c", ">", 3.0))))
    )
    assert run("metrics.a > 1 AND metrics.b > 2 or metrics.c > 3") == Or(
        (And((C("metric", "a", ">", 1.0), C("metric", "b", ">", 2.0))), C("metric", "c", ">", 3.0))
    )


def test_parentheses_override_precedence() -> None:
    assert run("(metrics.a > 1 OR metrics.b > 2) AND metrics.c > 3") == And(
        (Or((C("metric", "a", ">", 1.0), C("metric", "b", ">", 2.0))), C("metric", "c", ">", 3.0))
    )
    assert run("((metrics.a > 1))") == C("metric", "a", ">", 1.0)
    # nested ANDs flatten
    assert run("metrics.a > 1 AND (metrics.b > 2 AND metrics.c > 3)") == And(
        (C("metric", "a", ">", 1.0), C("metric", "b", ">", 2.0), C("metric", "c", ">", 3.0))
    )


def test_keywords_are_case_insensitive() -> None:
    assert run("params.a is NULL oR params.b Like 'x' AnD run_id NoT iN ('r')") == Or(
        (
            C("param", "a", "IS NULL", None),
            And((C("param", "b", "LIKE", "x"), C("attribute", "run_id", "NOT IN", ("r",)))),
        )
    )


def test_comparisons_walks_the_tree_in_order() -> None:
    tree = run("(metrics.a > 1 OR tags.b = 'x') AND params.c = 'y'")
    assert [c.key for c in comparisons(tree)] == ["a", "b", "c"]
    assert list(comparisons(None)) == []


# --------------------------------------------------------------------------------- other entities


def test_experiment_grammar() -> None:
    assert parse_filter("experiment", "name LIKE 'exp%'") == C("attribute", "name", "LIKE", "exp%")
    assert parse_filter("experiment", "creation_time > 10") == C("attribute", "creation_time", ">", 10)
    assert parse_filter("experiment", "last_update_time <= 10") == C(
        "attribute", "last_update_time", "<=", 10
    )
    assert parse_filter("experiment", "experiment_id IN ('1', '2')") == C(
        "attribute", "experiment_id", "IN", ("1", "2")
    )
    assert parse_filter("experiment", "tags.team IS NULL") == C("tag", "team", "IS NULL", None)
    assert parse_filter("experiment", "attributes.name ILIKE 'A%'") == C("attribute", "name", "ILIKE", "A%")
    assert "metrics cannot be used in a experiment filter" in error("experiment", "metrics.a > 1")
    assert "unknown attribute 'status'" in error("experiment", "status = 'x'")
    assert "'IN' at position 5 is not allowed for attribute 'name'" in error("experiment", "name IN ('a')")


def test_registered_model_grammar() -> None:
    assert parse_filter("registered_model", "name = 'm'") == C("attribute", "name", "=", "m")
    assert parse_filter("registered_model", "name IN ('a','b')") == C("attribute", "name", "IN", ("a", "b"))
    assert parse_filter("registered_model", "tags.k ILIKE '%v'") == C("tag", "k", "ILIKE", "%v")
    assert "'IS NULL'" in error("registered_model", "tags.k IS NULL")
    assert "params cannot be used" in error("registered_model", "params.a = 'x'")
    assert "unknown attribute 'run_id'" in error("registered_model", "run_id = 'x'")


def test_model_version_grammar() -> None:
    mv = "model_version"
    assert parse_filter(mv, "version_number > 2") == C("attribute", "version_number", ">", 2)
    assert parse_filter(mv, "version_number = '3'") == C("attribute", "version_number", "=", 3)
    assert parse_filter(mv, "run_id IN ('a')") == C("attribute", "run_id", "IN", ("a",))
    assert parse_filter(mv, "name NOT IN ('a')") == C("attribute", "name", "NOT IN", ("a",))
    assert parse_filter(mv, "source_path LIKE 'models:/%'") == C(
        "attribute", "source_path", "LIKE", "models:/%"
    )
    assert parse_filter(mv, "tags.k != 'v'") == C("tag", "k", "!=", "v")
    assert "must be compared with a number" in error(mv, "version_number = 'x'")
    assert "'IN' at position 12 is not allowed for attribute 'source_path'" in error(
        mv, "source_path IN ('a')"
    )


def test_logged_model_grammar() -> None:
    lm = "logged_model"
    assert parse_filter(lm, "name = 'model' AND source_run_id = 'r1'") == And(
        (C("attribute", "name", "=", "model"), C("attribute", "source_run_id", "=", "r1"))
    )
    for alias in ("creation_time", "creation_timestamp"):
        assert parse_filter(lm, f"{alias} > 5") == C("attribute", "creation_timestamp", ">", 5)
    for alias in ("last_updated_time", "last_updated_timestamp"):
        assert parse_filter(lm, f"{alias} < 5") == C("attribute", "last_updated_timestamp", "<", 5)
    assert parse_filter(lm, "status IN ('LOGGED_MODEL_READY')") == C(
        "attribute", "status", "IN", ("LOGGED_MODEL_READY",)
    )
    assert parse_filter(lm, "model_type = 'agent'") == C("attribute", "model_type", "=", "agent")
    assert parse_filter(lm, "model_id != 'm-1'") == C("attribute", "model_id", "!=", "m-1")
    assert parse_filter(lm, "metrics.acc >= 0.9") == C("metric", "acc", ">=", 0.9)
    assert parse_filter(lm, "params.lr = '0.1'") == C("param", "lr", "=", "0.1")
    assert parse_filter(lm, "tags.t LIKE 'x%'") == C("tag", "t", "LIKE", "x%")
    assert "datasets cannot be used" in error(lm, "datasets.name = 'x'")


def test_unknown_entity() -> None:
    with pytest.raises(InvalidParameterError, match="Unknown search entity 'span'"):
        parse_filter("span", "x = 1")
    assert set(ENTITIES) == {
        "run",
        "experiment",
        "registered_model",
        "model_version",
        "logged_model",
        "trace",
    }


# ----------------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("metrics.acc >", "Invalid filter 'metrics.acc >': expected a value after '>' at position 13"),
        (
            "metrics.acc",
            "expected a comparison operator after 'metrics.acc' at position 11, found end of input",
        ),
        ("metrics.acc ~ 1", "unexpected character '~' at position 12"),
        ("metrics.acc > 1 AND", "expected a comparison after 'AND' at position 19, found end of input"),
        ("metrics.acc > 1 OR", "expected a comparison after 'OR' at position 18, found end of input"),
        (
            "metrics.acc > 1 metrics.b > 2",
            "expected AND, OR or the end of the filter at position 16, found 'metrics.b'",
        ),
        ("(metrics.a > 1", "missing ')' to close the '(' at position 0: found end of input at position 14"),
        ("metrics.a > 1)", "unbalanced ')' at position 13"),
        ("()", "expected a comparison after '(' at position 1, found ')'"),
        ("AND metrics.a > 1", "expected a comparison at position 0, found 'AND'"),
        ("metrics.a > 'x'", "metric 'a' must be compared with a number, found \"'x'\" at position 12"),
        (
            "params.a = 1",
            "param 'a' must be compared with a quoted string (e.g. 'value'), found '1' at position 11",
        ),
        (
            "tags.a = unquoted",
            "tag 'a' must be compared with a quoted string (e.g. 'value'), found 'unquoted' at position 9",
        ),
        ("tags.a = 'x", "unterminated string starting at position 9"),
        ("tags.`a = 'x'", "unterminated backtick quote starting at position 5"),
        ("metrics.a = 0x10", "invalid number '0x10' at position 12"),
        ("metrics.a = 1.2.3", "invalid number '1.2.3' at position 12"),
        ("metricz.a > 1", "unknown entity type 'metricz' in 'metricz.a' at position 0"),
        ("acc > 1", "unknown attribute 'acc' at position 0; valid attributes are"),
        ("STATUS = 'x'", "unknown attribute 'STATUS' at position 0"),
        (
            "metrics.a LIKE 'x'",
            "operator 'LIKE' at position 10 is not allowed for metric 'a'; allowed: =, !=, <, <=, >, >=",
        ),
        ("metrics.a IS NULL", "operator 'IS NULL' at position 10 is not allowed for metric 'a'"),
        (
            "status IN ('a')",
            "operator 'IN' at position 7 is not allowed for attribute 'status'; allowed: =, !=, LIKE, ILIKE",
        ),
        ("start_time LIKE 'x'", "operator 'LIKE' at position 11 is not allowed for attribute 'start_time'"),
        ("start_time = 'x'", "attribute 'start_time' must be compared with a number"),
        ("tags.a > 'x'", "operator '>' at position 7 is not allowed for tag 'a'"),
        ("run_id IN ()", "empty list at position 11"),
        ("run_id IN 'a'", "expected '(' after IN at position 10, found \"'a'\""),
        ("run_id IN ('a' 'b')", "expected ',' or ')' in the list at position 15"),
        ("run_id IN ('a', 1)", "expected a quoted string in the list at position 16, found '1'"),
        ("params.a IS 'x'", "expected NULL or NOT NULL after IS at position 12"),
        ("params.a IS NOT 'x'", "expected NULL after IS NOT at position 16"),
        ("params.a NOT LIKE 'x'", "expected IN after NOT at position 13"),
        (
            "datasets.foo = 'x'",
            "unknown dataset key 'foo' at position 0; valid keys are context, digest, name",
        ),
        ("tags. = 'x'", "expected a key after 'tags.' at position 5"),
        ('tags."a = 1', "unterminated double quote starting at position 5"),
        ("tags.`` = 'x'", "empty key in 'tags.``' at position 0"),
        ("metrics.a > 1; DROP TABLE runs", "unexpected character ';' at position 13"),
        ("run name = 'x'", "unknown attribute 'run' at position 0"),
    ],
)
def test_error_messages_point_at_the_problem(text: str, message: str) -> None:
    assert message in error("run", text)


def test_error_message_quotes_the_whole_filter() -> None:
    assert (
        error("run", "metrics.acc >")
        == "Invalid filter 'metrics.acc >': expected a value after '>' at position 13"
    )


def test_deep_nesting_is_refused_cleanly() -> None:
    text = "(" * 400 + "metrics.a > 1" + ")" * 400
    assert "nested more than" in error("run", text)
    assert run("(" * 20 + "metrics.a > 1" + ")" * 20) == C("metric", "a", ">", 1.0)


def test_non_string_filter_is_refused() -> None:
    with pytest.raises(InvalidParameterError, match="expected a string"):
        parse_filter("run", 42)


FILTER_ALPHABET = st.sampled_from(
    list("abcdemtsx_.`'\"()<>=!,%-+0123456789eE \t")
    + [
        "metrics.",
        "params.",
        "tags.",
        "attributes.",
        " AND ",
        " OR ",
        " IN ",
        " NOT ",
        " IS ",
        " NULL ",
        " LIKE ",
        " ILIKE ",
        "run_id",
        "status",
        "start_time",
        "datasets.name",
        "\\",
        "1e5",
        "ü",
        # hostile strings: encoded dots, path parameters, NUL, backslashes, huge integers
        "%2e%2e",
        "%25252e",
        "..;",
        ";",
        "\x00",
        "9223372036854775808",
        "1" + "0" * 40,
        "-9223372036854775809",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    entity=st.sampled_from(ENTITIES),
    text=st.one_of(st.text(max_size=60), st.lists(FILTER_ALPHABET, max_size=25).map("".join)),
)
def test_parser_only_ever_raises_invalid_parameter(entity: str, text: str) -> None:
    try:
        result = parse_filter(entity, text)
    except InvalidParameterError as e:
        assert e.message.startswith("Invalid filter")
        return
    assert result is None or isinstance(result, (Comparison, And, Or))


@settings(max_examples=300, deadline=None)
@given(entity=st.sampled_from(ENTITIES), text=st.text(max_size=40))
def test_order_by_parser_only_ever_raises_invalid_parameter(entity: str, text: str) -> None:
    try:
        keys = parse_order_by(entity, [text])
    except InvalidParameterError:
        return
    assert all(isinstance(k, OrderKey) for k in keys)


# --------------------------------------------------------------------------------------- order_by


def test_order_by_for_runs() -> None:
    assert parse_order_by("run", ["metrics.acc DESC", "params.lr", "tags.`a b` asc", "start_time desc"]) == [
        OrderKey("metric", "acc", False),
        OrderKey("param", "lr", True),
        OrderKey("tag", "a b", True),
        OrderKey("attribute", "start_time", False),
    ]
    assert parse_order_by("run", ["created"]) == [OrderKey("attribute", "start_time", True)]
    assert parse_order_by("run", ["attributes.run_name DESC"]) == [OrderKey("attribute", "run_name", False)]
    assert parse_order_by("run", ["`metrics`.`my metric`"]) == [OrderKey("metric", "my metric", True)]
    assert parse_order_by("run", None) == [] and parse_order_by("run", []) == []
    assert parse_order_by("run", ["tags.mlflow.runName"]) == [OrderKey("tag", "mlflow.runName", True)]


def test_order_by_errors() -> None:
    with pytest.raises(InvalidParameterError, match="duplicate fields"):
        parse_order_by("run", ["metrics.a", "metrics.a DESC"])
    with pytest.raises(InvalidParameterError, match="duplicate fields"):
        parse_order_by("run", ["start_time", "created DESC"])
    with pytest.raises(InvalidParameterError, match="expected ASC or DESC at position 10, found 'UP'"):
        parse_order_by("run", ["metrics.a UP"])
    with pytest.raises(InvalidParameterError, match="unexpected 'x' at position 15"):
        parse_order_by("run", ["metrics.a DESC x"])
    with pytest.raises(InvalidParameterError, match="cannot order by datasets"):
        parse_order_by("run", ["datasets.name"])
    with pytest.raises(InvalidParameterError, match="unknown field 'acc'"):
        parse_order_by("run", ["acc"])
    with pytest.raises(InvalidParameterError, match="cannot order by tags"):
        parse_order_by("experiment", ["tags.a"])


def test_order_by_for_registry_and_experiments() -> None:
    assert parse_order_by("experiment", ["name", "creation_time DESC"]) == [
        OrderKey("attribute", "name", True),
        OrderKey("attribute", "creation_time", False),
    ]
    assert parse_order_by("registered_model", ["timestamp DESC"]) == [
        OrderKey("attribute", "last_updated_timestamp", False)
    ]
    assert parse_order_by("registered_model", ["creation_timestamp"]) == [
        OrderKey("attribute", "creation_timestamp", True)
    ]
    assert parse_order_by("model_version", ["version_number DESC", "name"]) == [
        OrderKey("attribute", "version_number", False),
        OrderKey("attribute", "name", True),
    ]
    with pytest.raises(InvalidParameterError, match="unknown field 'run_id'"):
        parse_order_by("model_version", ["run_id"])


def test_logged_model_order_by_dicts() -> None:
    assert parse_logged_model_order_by(
        [
            {"field_name": "metrics.acc", "ascending": False, "dataset_name": "eval"},
            {"field_name": "creation_time"},
            "name DESC",
        ]
    ) == [
        OrderKey("metric", "acc", False, "eval", None),
        OrderKey("attribute", "creation_timestamp", True),
        OrderKey("attribute", "name", False),
    ]
    assert parse_logged_model_order_by(None) == []
    with pytest.raises(InvalidParameterError, match="'ascending' must be a boolean"):
        parse_logged_model_order_by([{"field_name": "name", "ascending": "yes"}])
    with pytest.raises(InvalidParameterError, match="'field_name' must be a non-empty string"):
        parse_logged_model_order_by([{"ascending": True}])
    with pytest.raises(InvalidParameterError, match="needs 'dataset_name'"):
        parse_logged_model_order_by([{"field_name": "metrics.a", "dataset_digest": "d"}])
    with pytest.raises(InvalidParameterError, match="cannot order by params"):
        parse_logged_model_order_by([{"field_name": "params.a"}])
    with pytest.raises(InvalidParameterError, match="duplicate fields"):
        parse_logged_model_order_by([{"field_name": "creation_time"}, {"field_name": "creation_timestamp"}])


# ------------------------------------------------------------------------------------ page tokens


def test_page_tokens_match_mlflow_format() -> None:
    assert encode_page_token(1) == "eyJvZmZzZXQiOiAxfQ=="  # observed from MLflow's server
    assert json.loads(base64.b64decode(encode_page_token(1000))) == {"offset": 1000}
    for offset in (0, 1, 999, 10**9):
        assert decode_page_token(encode_page_token(offset)) == offset
    assert decode_page_token(None) == 0 and decode_page_token("") == 0
    # tokens with extra fields (MLflow's logged-model tokens) still carry the offset
    token = base64.b64encode(json.dumps({"experiment_ids": ["1"], "offset": 7}).encode()).decode()
    assert decode_page_token(token) == 7
    assert decode_page_token(encode_page_token(5).rstrip("=")) == 5  # padding lost in a URL


@pytest.mark.parametrize(
    "token",
    [
        "garbage!",
        "bm90IGpzb24=",
        base64.b64encode(b'{"offset": -1}').decode(),
        base64.b64encode(b"[1]").decode(),
        base64.b64encode(b'{"offset": "x"}').decode(),
        base64.b64encode(b'{"offset": true}').decode(),
        base64.b64encode(b'{"offset": 1.5}').decode(),
        base64.b64encode(b"\xff\xfe").decode(),
        "ü",
    ],
)
def test_bad_page_tokens_are_invalid_parameters(token: str) -> None:
    with pytest.raises(InvalidParameterError, match="Invalid page token"):
        decode_page_token(token)


def test_search_module_does_not_import_sqlalchemy() -> None:
    code = "import sys, bakehouse.store.search; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"
