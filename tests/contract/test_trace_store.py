"""The trace half of the tracking store contract, on every backend (SQLite, PostgreSQL, MySQL, REST).

Spans and trace infos arrive in either order (OTLP spans before the client's final TraceInfo, or after);
what is read back is the same on every backend, and the REST backends go through ``/v1/traces`` and the
v3 trace endpoints of a real ``bakehouse server``.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import replace
from typing import Any

import pytest

from bakehouse.entities.trace import Assessment, Span, SpanEvent, TraceInfo
from bakehouse.errors import InvalidParameterError, NotFoundError


def unique(prefix: str = "traces") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def otel_id() -> str:
    return uuid.uuid4().hex


def make_trace(
    trace_id: str, start_ns: int, n_children: int = 2, status: str = "OK", inputs: Any = None
) -> list[Span]:
    root = Span(
        trace_id,
        uuid.uuid4().hex[:16],
        None,
        "root",
        start_ns,
        start_ns + 50_000_000,
        status,
        "failed" if status == "ERROR" else "",
        {
            "mlflow.spanType": "CHAIN",
            "mlflow.spanInputs": inputs if inputs is not None else {"question": "why?"},
            "mlflow.spanOutputs": "because",
        },
        [SpanEvent("started", start_ns + 1, {"n": 1, "nested": {"a": [1, 2.5, True, None]}})],
    )
    children = [
        Span(
            trace_id,
            uuid.uuid4().hex[:16],
            root.span_id,
            f"child-{i}",
            start_ns + (i + 1) * 1_000_000,
            start_ns + (i + 2) * 1_000_000,
            "OK",
            "",
            {"mlflow.spanType": "LLM" if i == 0 else "TOOL", "model": "tiny-gpt", "index": i, "score": 0.25},
        )
        for i in range(n_children)
    ]
    return [root, *children]


def info_for(trace_id: str, experiment_id: str, start_ms: int, **kw: Any) -> TraceInfo:
    return TraceInfo(
        trace_id=trace_id,
        experiment_id=experiment_id,
        request_time=start_ms,
        execution_duration=kw.pop("execution_duration", 50),
        state=kw.pop("state", "OK"),
        request_preview='{"question": "why?"}',
        response_preview='"because"',
        trace_metadata=kw.pop("metadata", {"mlflow.user": "tester"}),
        tags=kw.pop("tags", {"mlflow.traceName": "root"}),
        **kw,
    )


def test_spans_then_info_round_trip_exactly(tracking_store: Any) -> None:
    eid = tracking_store.create_experiment(unique())
    trace_id = "tr-" + otel_id()
    start = time.time_ns()
    spans = make_trace(trace_id, start)
    spans[1].attributes["nan"] = math.nan
    spans[1].attributes["inf"] = -math.inf
    assert tracking_store.log_spans(eid, spans) == 3
    partial = tracking_store.get_trace_info(trace_id)
    assert partial.state == "OK" and partial.request_time == start // 1_000_000
    assert partial.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    stored = tracking_store.start_trace(info_for(trace_id, eid, start // 1_000_000, tags={"team": "a"}))
    assert stored.tags["team"] == "a" and stored.trace_metadata["mlflow.trace.infoFinalized"] == "true"
    trace = tracking_store.get_trace(trace_id)
    assert trace.info.experiment_id == eid
    assert trace.info.execution_duration == 50
    got = {s.span_id: s for s in trace.spans}
    for span in spans:
        back = got[span.span_id]
        assert (back.parent_span_id, back.name, back.status_code, back.status_message) == (
            span.parent_span_id,
            span.name,
            span.status_code,
            span.status_message,
        )
        assert (back.start_time_unix_nano, back.end_time_unix_nano) == (
            span.start_time_unix_nano,
            span.end_time_unix_nano,
        )
        assert [(e.name, e.time_unix_nano, e.attributes) for e in back.events] == [
            (e.name, e.time_unix_nano, e.attributes) for e in span.events
        ]
        for key, value in span.attributes.items():
            if isinstance(value, float) and math.isnan(value):
                assert math.isnan(back.attributes[key])
            else:
                assert back.attributes[key] == value, key
    assert trace.spans[0].parent_span_id is None  # ordered by start time


def test_info_after_spans_keeps_what_was_written_in_between(tracking_store: Any) -> None:
    """StartTraceV3 for a trace made from its spans merges into what the trace has by then (a tag, an
    assessment, the previews from the root span when the client sends none): the answer, the stored trace
    and one rewritten from its rows after a later change all agree."""
    eid = tracking_store.create_experiment(unique())
    trace_id = "tr-" + otel_id()
    start = time.time_ns()
    tracking_store.log_spans(eid, make_trace(trace_id, start, inputs={"q": "kept"}))
    tracking_store.set_trace_tag(trace_id, "early", "yes")
    feedback = tracking_store.create_assessment(
        Assessment("", trace_id, "good", "feedback", True, {"value": True}, "HUMAN", "me")
    )
    info = info_for(trace_id, eid, start // 1_000_000, tags={"team": "a"}, metadata={"mlflow.user": "u"})
    info.request_preview = None
    stored = tracking_store.start_trace(info)
    assert stored.tags["early"] == "yes" and stored.tags["team"] == "a"
    assert stored.tags["mlflow.traceName"] == "root"
    assert stored.trace_metadata["mlflow.user"] == "u"
    assert stored.trace_metadata["mlflow.trace.infoFinalized"] == "true"
    assert stored.request_preview == '{"q": "kept"}' and stored.response_preview == '"because"'
    assert [a.assessment_id for a in stored.assessments] == [feedback.assessment_id]
    assert tracking_store.get_trace_info(trace_id) == stored
    (found,), _ = tracking_store.search_traces([eid])
    assert found == stored
    tracking_store.set_trace_tag(trace_id, "late", "1")  # the stored trace rewritten from the tables
    assert tracking_store.get_trace_info(trace_id) == replace(stored, tags={**stored.tags, "late": "1"})


def test_info_then_spans_keeps_the_clients_times(tracking_store: Any) -> None:
    eid = tracking_store.create_experiment(unique())
    trace_id = "tr-" + otel_id()
    start = time.time_ns()
    tracking_store.start_trace(info_for(trace_id, eid, 1000, execution_duration=7))
    tracking_store.log_spans(eid, make_trace(trace_id, start))
    info = tracking_store.get_trace_info(trace_id)
    assert (info.request_time, info.execution_duration) == (1000, 7)
    assert len(tracking_store.get_trace(trace_id).spans) == 3


def test_spans_of_many_traces_in_one_call_and_late_spans(tracking_store: Any) -> None:
    eid = tracking_store.create_experiment(unique())
    start = time.time_ns()
    ids = ["tr-" + otel_id() for _ in range(3)]
    spans = [s for i, t in enumerate(ids) for s in make_trace(t, start + i * 1_000_000_000, n_children=1)]
    tracking_store.log_spans(eid, spans)
    late = Span(ids[0], uuid.uuid4().hex[:16], spans[0].span_id, "late", start, start + 900_000_000, "OK")
    tracking_store.log_spans(eid, [late])
    info = tracking_store.get_trace_info(ids[0])
    assert info.execution_duration == 900  # the trace stretched to cover the late span
    traces = tracking_store.batch_get_traces(ids)
    assert [t.info.trace_id for t in traces] == ids
    assert [len(t.spans) for t in traces] == [3, 2, 2]
    infos = tracking_store.batch_get_trace_infos(ids, [eid])
    assert [i.trace_id for i in infos] == ids


def test_search_by_status_tags_timestamps_spans_and_or(tracking_store: Any) -> None:
    eid = tracking_store.create_experiment(unique())
    base = 1_700_000_000_000
    ids = []
    for i, status in enumerate(["OK", "ERROR", "OK", "OK"]):
        trace_id = "tr-" + otel_id()
        ids.append(trace_id)
        tracking_store.log_spans(eid, make_trace(trace_id, (base + i * 1000) * 1_000_000, status=status))
        tracking_store.start_trace(
            info_for(
                trace_id, eid, base + i * 1000, state=status, tags={"mlflow.traceName": f"t{i}", "i": str(i)}
            )
        )

    def search(filter_string: str | None = None, **kw: Any) -> list[str]:
        infos, _ = tracking_store.search_traces([eid], filter_string, **kw)
        return [i.trace_id for i in infos]

    assert search() == ids[::-1]  # newest first
    assert search("trace.status = 'ERROR'") == [ids[1]]
    assert search("attributes.status != 'ERROR'") == [ids[3], ids[2], ids[0]]
    assert search(f"trace.timestamp_ms >= {base + 2000}") == [ids[3], ids[2]]
    assert search("tags.i = '0' OR (tags.i = '3' AND trace.status = 'OK')") == [ids[3], ids[0]]
    assert search("trace.name IN ('t1', 't2')") == [ids[2], ids[1]]
    assert search("span.name = 'child-1'") == ids[::-1]
    assert search("span.type = 'LLM' AND span.status = 'OK'") == ids[::-1]
    assert search("span.attributes.model = 'tiny-gpt'") == ids[::-1]
    assert search("span.attributes.model = 'other'") == []
    assert search("trace.execution_time_ms > 10 AND trace.timestamp_ms < 1") == []
    assert search("tags.missing IS NULL AND metadata.`mlflow.user` = 'tester'") == ids[::-1]
    assert search(order_by=["timestamp_ms ASC"]) == ids
    assert search(order_by=["tags.i DESC"]) == ids[::-1]
    first, token = tracking_store.search_traces([eid], None, 3)
    assert token and len(first) == 3
    rest, token2 = tracking_store.search_traces([eid], None, 3, None, token)
    assert [i.trace_id for i in rest] == [ids[0]] and token2 is None
    with pytest.raises(InvalidParameterError):
        tracking_store.search_traces([eid], "span.bogus = 'x'")
    with pytest.raises(InvalidParameterError):
        tracking_store.search_traces([eid], "trace.status = ")


def test_tags_links_and_run_filter(tracking_store: Any) -> None:
    eid = tracking_store.create_experiment(unique())
    run = tracking_store.create_run(eid, user_id="u", start_time=int(time.time() * 1000))
    run_id = run.info.run_id
    inside, linked, other = ("tr-" + otel_id() for _ in range(3))
    for trace_id in (inside, linked, other):
        tracking_store.log_spans(eid, make_trace(trace_id, time.time_ns()))
    tracking_store.start_trace(
        info_for(inside, eid, int(time.time() * 1000), metadata={"mlflow.sourceRun": run_id})
    )
    tracking_store.link_traces_to_run([linked], run_id)
    infos, _ = tracking_store.search_traces([eid], f"trace.run_id = '{run_id}'")
    assert {i.trace_id for i in infos} == {inside, linked}
    infos, _ = tracking_store.search_traces([eid], f"metadata.`mlflow.sourceRun` = '{run_id}'")
    assert {i.trace_id for i in infos} == {inside, linked}
    with pytest.raises(NotFoundError):
        tracking_store.link_traces_to_run(["tr-" + otel_id()], run_id)
    tracking_store.set_trace_tag(other, "k", "v")
    assert tracking_store.get_trace_info(other).tags["k"] == "v"
    tracking_store.delete_trace_tag(other, "k")
    assert "k" not in tracking_store.get_trace_info(other).tags
    with pytest.raises(NotFoundError):
        tracking_store.delete_trace_tag(other, "k")
    with pytest.raises(NotFoundError):
        tracking_store.set_trace_tag("tr-" + otel_id(), "k", "v")
    with pytest.raises(NotFoundError):
        tracking_store.get_trace_info("tr-" + otel_id())


def test_assessments(tracking_store: Any) -> None:
    eid = tracking_store.create_experiment(unique())
    trace_id = "tr-" + otel_id()
    tracking_store.log_spans(eid, make_trace(trace_id, time.time_ns()))
    good = tracking_store.create_assessment(
        Assessment("", trace_id, "good", "feedback", True, {"value": True}, "HUMAN", "me", rationale="fine")
    )
    assert good.assessment_id and good.valid and good.rationale == "fine"
    score = tracking_store.create_assessment(
        Assessment("", trace_id, "score", "feedback", 0.75, {"value": 0.75}, "LLM_JUDGE", "judge")
    )
    expected = {"answer": ["because", 1]}
    exp = tracking_store.create_assessment(
        Assessment(
            "",
            trace_id,
            "truth",
            "expectation",
            expected,
            {
                "serialized_value": {
                    "serialization_format": "JSON_FORMAT",
                    "value": '{"answer": ["because", 1]}',
                }
            },
            "HUMAN",
            "me",
        )
    )
    assert tracking_store.get_assessment(trace_id, exp.assessment_id).value == expected
    info = tracking_store.get_trace_info(trace_id)
    assert [a.name for a in info.assessments] == ["good", "score", "truth"]

    def found(filter_string: str) -> bool:
        return bool(tracking_store.search_traces([eid], filter_string)[0])

    assert found("feedback.good = 'true'") and not found("feedback.good = 'false'")
    assert found("feedback.score > 0.5") and not found("feedback.score > 0.8")
    assert found("expectation.truth IS NOT NULL") and found("feedback.missing IS NULL")
    updated = tracking_store.update_assessment(
        trace_id, score.assessment_id, kind="feedback", payload={"value": 0.9}, value=0.9, rationale="raised"
    )
    assert updated.value == 0.9 and updated.rationale == "raised"
    assert found("feedback.score > 0.8")
    override = tracking_store.create_assessment(
        Assessment(
            "",
            trace_id,
            "good",
            "feedback",
            False,
            {"value": False},
            "HUMAN",
            "me",
            overrides=good.assessment_id,
        )
    )
    assert tracking_store.get_assessment(trace_id, good.assessment_id).valid is False
    assert found("feedback.good = 'false'") and not found("feedback.good = 'true'")
    tracking_store.delete_assessment(trace_id, override.assessment_id)
    assert tracking_store.get_assessment(trace_id, good.assessment_id).valid is True
    with pytest.raises(NotFoundError):
        tracking_store.get_assessment(trace_id, override.assessment_id)


def test_delete_traces_by_id_and_by_age(tracking_store: Any) -> None:
    eid = tracking_store.create_experiment(unique())
    ids = ["tr-" + otel_id() for _ in range(4)]
    for i, trace_id in enumerate(ids):
        tracking_store.log_spans(eid, make_trace(trace_id, (1_000_000 + i) * 1_000_000_000))
    assert tracking_store.delete_traces(eid, trace_ids=[ids[0]]) == 1
    with pytest.raises(NotFoundError):
        tracking_store.get_trace(ids[0])
    assert tracking_store.delete_traces(eid, max_timestamp_millis=(1_000_000 + 2) * 1000, max_traces=1) == 1
    remaining = [i.trace_id for i in tracking_store.search_traces([eid])[0]]
    assert remaining == [ids[3], ids[2]]
    with pytest.raises(InvalidParameterError):
        tracking_store.delete_traces(eid)


def test_refusals(tracking_store: Any) -> None:
    eid = tracking_store.create_experiment(unique())
    with pytest.raises(NotFoundError):
        tracking_store.log_spans("987654321", make_trace("tr-" + otel_id(), time.time_ns()))
    tracking_store.delete_experiment(eid)
    with pytest.raises(InvalidParameterError):
        tracking_store.log_spans(eid, make_trace("tr-" + otel_id(), time.time_ns()))


def every_page(
    store: Any, experiments: list[str], filter_string: str, order_by: list[str] | None, page: int
) -> list[str]:
    """The ids of every trace a search finds, following its page tokens."""
    found: list[str] = []
    token = None
    while True:
        infos, token = store.search_traces(experiments, filter_string, page, order_by, token)
        found += [i.trace_id for i in infos]
        if not token:
            return found


def test_tag_search_follows_every_write_to_a_trace(tracking_store: Any) -> None:
    """``tags.k = 'v'`` and ``trace.name = 'v'`` are read off the tag search index (0012): what they find,
    and in which order, matches the same filter answered by walking the traces (``LIKE`` without wildcards) after
    each kind of write: spans first or the trace info first, a tag set or deleted later, late spans that
    start the trace earlier, a trace moved to another experiment; with long values that share their first
    100 characters, another condition beside the tag, and paging."""
    eid, other_eid = (tracking_store.create_experiment(unique()) for _ in range(2))
    base = 1_700_000_000_000
    long_a, long_b = "é" * 100 + "a", "é" * 100 + "b"  # one indexed prefix, two values
    ids = ["tr-" + otel_id() for _ in range(8)]
    for i, trace_id in enumerate(ids):
        team = "red" if i % 2 else "blue"
        state = "ERROR" if i % 3 == 0 else "OK"
        if i < 4:  # spans first, as MLflow's client sends a trace
            tracking_store.log_spans(eid, make_trace(trace_id, (base + i * 1000) * 1_000_000, status=state))
        tags = {"mlflow.traceName": f"name-{i % 2}", "team": team, "long": long_a if i < 5 else long_b}
        tracking_store.start_trace(info_for(trace_id, eid, base + i * 1000, state=state, tags=tags))

    def search(filter_string: str, experiment: str = eid, page: int = 100) -> list[str]:
        return every_page(tracking_store, [experiment], filter_string, None, page)

    def same_as_walked(filter_string: str, walked: str, expected: list[str], experiment: str = eid) -> None:
        assert search(filter_string, experiment) == expected
        assert search(walked, experiment) == expected
        assert search(filter_string, experiment, page=2) == expected

    newest_first = ids[::-1]
    same_as_walked("tags.team = 'red'", "tags.team LIKE 'red'", [t for t in newest_first if ids.index(t) % 2])
    same_as_walked("trace.name = 'name-0'", "trace.name LIKE 'name-0'", newest_first[1::2])
    same_as_walked(f"tags.long = '{long_a}'", f"tags.long LIKE '{long_a}'", newest_first[3:])
    same_as_walked(f"tags.long = '{long_b}'", f"tags.long LIKE '{long_b}'", newest_first[:3])
    assert search("tags.long = '" + "é" * 100 + "'") == []  # the indexed prefix of both, not a value
    assert search("tags.long = '" + "é" * 99 + "'") == []
    same_as_walked(
        "tags.team = 'red' AND trace.status = 'ERROR'",
        "tags.team LIKE 'red' AND trace.status = 'ERROR'",
        [ids[3]],
    )
    assert search("trace.status = 'ERROR' AND tags.team = 'blue'") == [ids[6], ids[0]]
    tracking_store.set_trace_tag(ids[2], "team", "red")  # a tag changed after the trace was written
    tracking_store.set_trace_tag(ids[4], "late", "yes")  # and one added
    tracking_store.delete_trace_tag(ids[7], "team")
    red = [ids[5], ids[3], ids[2], ids[1]]
    same_as_walked("tags.team = 'red'", "tags.team LIKE 'red'", red)
    same_as_walked("tags.late = 'yes'", "tags.late LIKE 'yes'", [ids[4]])
    # spans that start earlier than every other trace: the trace (not finalized yet) moves to the end
    early = "tr-" + otel_id()
    tracking_store.log_spans(eid, make_trace(early, (base + 50_000) * 1_000_000))
    tracking_store.set_trace_tag(early, "team", "red")
    assert search("tags.team = 'red'") == [early, *red]
    tracking_store.log_spans(
        eid,
        [Span(early, uuid.uuid4().hex[:16], None, "root", (base - 5000) * 1_000_000, base * 1_000_000, "OK")],
    )
    assert tracking_store.get_trace_info(early).request_time == base - 5000
    same_as_walked("tags.team = 'red'", "tags.team LIKE 'red'", [*red, early])
    # the client's final info puts the trace in another experiment at another time
    tracking_store.start_trace(info_for(early, other_eid, base + 100_000, tags={"team": "red"}))
    same_as_walked("tags.team = 'red'", "tags.team LIKE 'red'", red)
    same_as_walked("tags.team = 'red'", "tags.team LIKE 'red'", [early], experiment=other_eid)
    same_as_walked(
        "tags.`mlflow.traceName` = 'root'",
        "tags.`mlflow.traceName` LIKE 'root'",
        [early],
        experiment=other_eid,
    )


def test_run_search_finds_made_and_linked_traces_in_order(tracking_store: Any) -> None:
    """``trace.run_id`` (and metadata ``mlflow.sourceRun``) is answered from the run's traces (the metadata
    index of 0012 and the run links) instead of walking the experiment: the same traces, in the asked order,
    pages included, with other conditions beside it; a trace of the run in another experiment stays out."""
    eid, other_eid = (tracking_store.create_experiment(unique()) for _ in range(2))
    run_id = tracking_store.create_run(eid, user_id="u", start_time=1).info.run_id
    other_run = tracking_store.create_run(eid, user_id="u", start_time=1).info.run_id
    base = 1_700_000_000_000
    ids = ["tr-" + otel_id() for _ in range(7)]
    for i, trace_id in enumerate(ids):
        source = run_id if i % 2 == 0 else other_run
        state = "ERROR" if i == 4 else "OK"
        metadata = {"mlflow.sourceRun": source, "mlflow.user": "u"}
        tracking_store.start_trace(info_for(trace_id, eid, base + i * 1000, state=state, metadata=metadata))
    tracking_store.link_traces_to_run([ids[1]], run_id)  # made in the other run, linked to this one
    elsewhere = "tr-" + otel_id()
    tracking_store.start_trace(
        info_for(elsewhere, other_eid, base + 500, metadata={"mlflow.sourceRun": run_id})
    )

    def search(filter_string: str, order_by: list[str] | None = None, page: int = 100) -> list[str]:
        return every_page(tracking_store, [eid], filter_string, order_by, page)

    mine = [ids[6], ids[4], ids[2], ids[1], ids[0]]
    assert search(f"trace.run_id = '{run_id}'") == mine
    assert search(f"trace.run_id = '{run_id}'", page=2) == mine
    assert search(f"metadata.`mlflow.sourceRun` = '{run_id}'") == mine
    assert search(f"trace.run_id = '{run_id}'", ["timestamp_ms ASC"]) == mine[::-1]
    assert search(f"trace.run_id = '{run_id}' AND trace.status = 'OK'") == [ids[6], ids[2], ids[1], ids[0]]
    assert search(f"trace.status = 'ERROR' AND trace.run_id = '{run_id}'") == [ids[4]]
    assert search(f"trace.run_id IN ('{run_id}', '{other_run}')") == ids[::-1]
    assert search(f"trace.run_id = '{other_run}'") == [ids[5], ids[3], ids[1]]
    assert search(f"trace.run_id != '{run_id}'") == [ids[5], ids[3]]  # walked, as before
    assert search("trace.run_id = 'no-such-run'") == []
    found, _ = tracking_store.search_traces([eid, other_eid], f"trace.run_id = '{run_id}'")
    assert [i.trace_id for i in found] == [*mine[:4], elsewhere, ids[0]]


def test_search_json_pages_equal_the_general_search(tracking_store: Any) -> None:
    """The server's search path (``search_traces_json``: each shape's SQL compiled once, run on the driver's
    cursor) gives, page by page, exactly the documents and tokens of ``search_traces``."""
    if not hasattr(tracking_store, "search_traces_json"):
        pytest.skip("the REST store has no JSON search: its server runs the SQL store's, tested here")
    import orjson
    from sqlalchemy import update

    from bakehouse.store.db import schema as s
    from bakehouse.store.tracking.sql.traces import _page_statement
    from bakehouse.wire.trace_json import trace_info_to_json

    store = tracking_store
    first, second = store.create_experiment(unique()), store.create_experiment(unique())
    base = 1_700_000_000_000
    ids = []
    for i in range(14):
        trace_id = "tr-" + otel_id()
        ids.append(trace_id)
        eid = first if i % 3 else second
        store.log_spans(eid, make_trace(trace_id, (base + i * 1000) * 1_000_000))
        store.start_trace(
            info_for(
                trace_id,
                eid,
                base + (i // 2) * 1000,  # pairs share a start time: ties are broken by id
                execution_duration=100 + (i * 37) % 90,
                state="ERROR" if i % 4 == 0 else "OK",
                tags={"mlflow.traceName": f"agent-{i % 3}", "team": f"team-{i % 2}"},
                metadata={"mlflow.user": "tester", "mlflow.sourceRun": f"run-{i % 5}"},
            )
        )
    with store.db.write() as conn:  # a trace stored before documents were: built from its rows
        conn.execute(update(s.trace_info).where(s.trace_info.c.request_id == ids[5]).values(info_json=None))
    shapes: list[tuple[list[str], str | None, list[str] | None]] = [
        ([first], None, None),
        ([first, second], None, None),
        ([first, second], "trace.status = 'ERROR'", None),
        ([first], "tags.team = 'team-1'", None),
        ([first, second], "tags.team = 'team-0' AND trace.status = 'OK'", None),
        ([first], "trace.name = 'agent-2'", None),
        ([first, second], "trace.run_id = 'run-3'", None),
        (
            [first, second],
            f"trace.timestamp_ms >= {base + 2000} AND trace.timestamp_ms < {base + 6000}",
            None,
        ),
        ([first, second], None, ["timestamp_ms ASC"]),
        ([first, second], None, ["execution_time_ms DESC"]),
        ([first, second], "tags.team = 'team-1'", ["tags.team ASC", "timestamp_ms ASC"]),
        ([first], "tags.team = 'nobody'", None),
    ]
    for experiments, filter_string, order_by in shapes:
        assert _page_statement(store.db.engine.dialect, experiments, filter_string, order_by) is not None
        token: str | None = None
        pages = 0
        while True:
            infos, want_token = store.search_traces(experiments, filter_string, 3, order_by, token)
            documents, got_token = store.search_traces_json(experiments, filter_string, 3, order_by, token)
            assert [orjson.loads(d) for d in documents] == [trace_info_to_json(i) for i in infos]
            assert got_token == want_token, (filter_string, order_by, pages)
            pages += 1
            if not want_token:
                break
            token = want_token
        assert pages >= 1
    everything, _ = store.search_traces_json([first, second], None, 100)
    assert len(everything) == 14 and sum(ids[5] in d for d in everything) == 1  # rebuilt from its rows
    for bad in ("trace.status = ", "span.bogus = 'x'"):
        with pytest.raises(InvalidParameterError):
            store.search_traces_json([first], bad, 3)
    for max_results in (0, -1, True):
        with pytest.raises(InvalidParameterError):
            store.search_traces_json([first], None, max_results)
    with pytest.raises(InvalidParameterError):
        store.search_traces_json([first], None, 3, None, "not-a-token")
    with pytest.raises(InvalidParameterError):
        store.search_traces_json(["not-an-id"], None, 3)
