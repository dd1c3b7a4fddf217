"""The Traces tab and the trace view in headless Chromium: a 200-span trace opens, its tree expands, the
timeline shows, a span's inputs and attributes are shown, and the run page links its traces."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from browser_harness import UiServer, shot
from playwright.sync_api import expect

from bakehouse.entities.trace import Assessment, Span, SpanEvent, TraceInfo
from bakehouse.store.tracking.rest import RestTrackingStore

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def big_trace(ui_server: UiServer) -> dict[str, Any]:
    """One experiment with a run, a 200-span trace inside it (root, 9 steps, 190 calls) and a small one."""
    store = RestTrackingStore.from_uri(ui_server.url)
    eid = store.create_experiment(f"traces-ui-{uuid.uuid4().hex[:6]}")
    run = store.create_run(eid, user_id="ui", start_time=int(time.time() * 1000))
    otel = uuid.uuid4().hex
    trace_id = f"tr-{otel}"
    t0 = time.time_ns()
    root = Span(
        trace_id,
        "0" * 15 + "1",
        None,
        "agent",
        t0,
        t0 + 2_000_000_000,
        "OK",
        "",
        {
            "mlflow.spanType": "AGENT",
            "mlflow.spanInputs": {"question": "how big?"},
            "mlflow.spanOutputs": "200 spans",
        },
    )
    spans = [root]
    steps = []
    for i in range(9):
        step = Span(
            trace_id,
            f"{0x100 + i:016x}",
            root.span_id,
            f"step-{i}",
            t0 + i * 200_000_000,
            t0 + (i + 1) * 200_000_000,
            "OK",
            "",
            {"mlflow.spanType": "CHAIN", "mlflow.spanInputs": {"step": i}},
        )
        steps.append(step)
    spans += steps
    for j in range(190):
        parent = steps[j % 9]
        start = parent.start_time_unix_nano + (j // 9) * 9_000_000
        failed = j == 9  # under step-0
        spans.append(
            Span(
                trace_id,
                f"{0x1000 + j:016x}",
                parent.span_id,
                f"call-{j}",
                start,
                start + 8_000_000,
                "ERROR" if failed else "OK",
                "TimeoutError: slow" if failed else "",
                {
                    "mlflow.spanType": "LLM",
                    "mlflow.spanInputs": {"prompt": f"p{j}"},
                    "mlflow.spanOutputs": f"r{j}",
                    "mlflow.llm.model": "tiny",
                    "mlflow.chat.tokenUsage": {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5},
                },
                [SpanEvent("exception", start + 1, {"exception.type": "TimeoutError"})] if failed else [],
            )
        )
    assert len(spans) == 200
    store.log_spans(eid, spans)
    store.start_trace(
        TraceInfo(
            trace_id,
            eid,
            t0 // 1_000_000,
            2000,
            "OK",
            '{"question": "how big?"}',
            '"200 spans"',
            trace_metadata={
                "mlflow.sourceRun": run.info.run_id,
                "mlflow.trace.tokenUsage": '{"input_tokens": 570, "output_tokens": 380, "total_tokens": 950}',
            },
            tags={"mlflow.traceName": "agent", "team": "ui"},
        )
    )
    store.create_assessment(
        Assessment(
            "", trace_id, "helpful", "feedback", True, {"value": True}, "HUMAN", "tester", rationale="clear"
        )
    )
    small = f"tr-{uuid.uuid4().hex}"
    store.log_spans(eid, [Span(small, "a" * 16, None, "lookup", t0, t0 + 5_000_000, "ERROR", "no", {})])
    return {"experiment_id": eid, "trace_id": trace_id, "run_id": run.info.run_id, "small": small}


def test_the_traces_tab_lists_filters_and_opens_a_200_span_trace(
    page: Any, big_trace: dict[str, Any]
) -> None:
    eid = big_trace["experiment_id"]
    page.goto(f"{page.base}/#/experiments/{eid}")
    page.locator("a.traces-link").click()
    rows = page.locator("table.traces tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("table.traces")).to_contain_text("950")  # tokens column
    page.select_option("select[aria-label='Trace status']", "ERROR")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("lookup")
    page.select_option("select[aria-label='Trace status']", "")
    page.fill("input[aria-label='Filter traces']", "tags.team = 'ui' OR span.name = 'nothing'")
    page.keyboard.press("Enter")
    expect(rows).to_have_count(1)
    shot(page, "traces")
    rows.first.locator("a.trace-link").click()

    tree = page.locator(".span-tree")
    expect(tree.locator(".span-row.head")).to_contain_text("200 spans")
    visible = tree.locator(".span-row[data-span-id]")
    expect(visible).to_have_count(10)  # root and its 9 steps; deeper levels open on demand
    expect(page.locator(".timeline-bar").first).to_be_visible()
    step0 = tree.locator(".span-row[data-span-id='0000000000000100']")
    step0.locator("button.twisty").click()
    expect(visible).to_have_count(10 + 22)
    expect(step0.locator("button.twisty")).to_have_attribute("aria-expanded", "true")
    failing = tree.locator(".span-row[data-span-id='0000000000001009']")
    expect(failing).to_have_class("span-row error")
    failing.locator("button.span-pick").click()
    detail = page.locator("#span-detail")
    expect(detail.locator("pre.span-inputs")).to_contain_text('"prompt": "p9"')
    expect(detail.locator("pre.span-outputs")).to_contain_text("r9")
    expect(detail.locator("table.span-attrs")).to_contain_text("mlflow.llm.model")
    expect(detail).to_contain_text("TimeoutError: slow")
    expect(detail.locator(".span-events")).to_contain_text("exception")
    expect(page.locator("section.assessments")).to_contain_text("helpful")
    box = page.locator(".span-row[data-span-id='0000000000000100'] .timeline-bar").bounding_box()
    assert box is not None and box["width"] > 5
    shot(page, "trace")


def test_the_run_page_links_its_traces(page: Any, big_trace: dict[str, Any]) -> None:
    eid, run_id = big_trace["experiment_id"], big_trace["run_id"]
    page.goto(f"{page.base}/#/experiments/{eid}/runs/{run_id}")
    page.get_by_role("tab", name="Traces").click()
    rows = page.locator("table.traces tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("agent")
    rows.first.locator("a.trace-link").click()
    expect(page.locator(".span-tree .span-row.head")).to_contain_text("200 spans")
