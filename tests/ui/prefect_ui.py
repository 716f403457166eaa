"""Page helpers for the Prefect UI, V1 (at `/`) and V2 (at `/v2`), for browser tests.

The two UIs draw the same things differently (Prefect 3.9.1):

- run page: V1 `/runs/flow-run/<id>`, V2 `/v2/runs/flow-run/<id>`;
- resume form: V1 button "Resume" → modal, "Submit"; V2 "Open menu" → "Resume" → dialog,
  "Resume";
- a field: V1 a `.schema-form-property` whose label span is the title (its `<label for>` names
  no control); V2 a `div.group` whose first row holds the `<label>`;
- a select (enum): V1 a `.p-select` button that opens on ArrowDown (a click only focuses it);
  V2 a button `aria-haspopup=listbox` that opens on click;
- a list item: V1 `.p-draggable-list__item`; V2 the row holding the "Drag to reorder" handle;
- the description: V1 `article.markdown-renderer`, V2 `.prose`;
- an artifact: V1 `/artifacts/artifact/<id>`, V2 `/v2/artifacts/artifact/<id>`.

An optional field's label ends with " (Optional)"; helpers take the Chinese title alone. Both
UIs give options `role=option`, teleported to the page body. Nothing here sleeps: every wait is a
Playwright auto-wait, an `expect`, or a poll of the Prefect API with a deadline.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from tests.ui.conftest import CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "var" / "screenshots"
"""Where a test run leaves its screenshots (git-ignored with var/); the operator guide's
section 界面截图怎么看 explains each one."""

Version = Literal["v1", "v2"]
VERSIONS: tuple[Version, ...] = ("v1", "v2")
POLL_SECONDS = 1.0
FIRST_LINE_PX = 16


BROWSER_MARKS = [
    pytest.mark.ui,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"未找到 Chromium（{CHROMIUM}），跳过浏览器测试；apt-get install chromium "
        f"fonts-noto-cjk（Chromium not found at {CHROMIUM}: browser tests skipped）",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("playwright") is None,
        reason="未安装 playwright，跳过浏览器测试；pip install playwright，无需下载浏览器"
        "（the playwright package is missing: browser tests skipped）",
    ),
]
"""A browser test's marks: `ui`, and skipped, saying why, without Chromium or Playwright."""


# --- the Prefect API ------------------------------------------------------------------------


def flow_run(run_id: Any) -> Any:
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id)


def run_deployment(name: str, parameters: dict[str, Any]) -> Any:
    """`run_deployment(..., timeout=0)` with the synchronous client: Playwright's sync API keeps
    an event loop in this thread, where `run_deployment` would return a coroutine."""
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(name)
        return client.create_flow_run_from_deployment(deployment.id, parameters=parameters)


def wait_for_state(
    run_id: Any,
    name: str,
    seconds: float,
    logs: Callable[[], str],
    *,
    not_state: Any = None,
) -> Any:
    """The run once its state is named `name` — and is not the state whose id is `not_state`
    (a run resumed and suspended again is "Suspended" before and after: pass the first state's
    id to wait for the second). Fails with the system's logs when the run ends otherwise."""
    deadline = time.monotonic() + seconds
    run = flow_run(run_id)
    while run.state is None or run.state.name != name or run.state.id == not_state:
        if run.state is not None and run.state.is_final() and run.state.name != name:
            pytest.fail(
                f"运行结束于 {run.state.name}，而非 {name}（run ended {run.state.name}: "
                f"{run.state.message}）\n{logs()}"
            )
        if time.monotonic() > deadline:
            state = run.state.name if run.state else None
            pytest.fail(f"{seconds:.0f} 秒内未到 {name}（still {state}）\n{logs()}")
        time.sleep(POLL_SECONDS)
        run = flow_run(run_id)
    return run


def latest_artifact(key: str, seconds: float = 30.0, containing: str = "") -> Any:
    """The newest artifact with `key` (whose text holds `containing`, waited for: a sweep may
    write the inbox between a run's own refresh and its suspension, before the next tick lists
    it); an AssertionError naming the key if none appears."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from prefect.client.schemas.sorting import ArtifactSort

    deadline = time.monotonic() + seconds
    while True:
        with get_client(sync_client=True) as client:
            found = client.read_artifacts(
                artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
                sort=ArtifactSort.CREATED_DESC,
                limit=1,
            )
        if found and containing in str(found[0].data):
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"没有键为 {key} 的工件（no artifact with key {key!r}）")
        time.sleep(POLL_SECONDS)


# --- checks that let a scenario go on --------------------------------------------------------


class Checks:
    """Independent checks of one scenario. A failed one is noted and the scenario goes on, so one
    run names every part that is broken; leaving the `with` block fails the test with all of them.
    Steps the rest depends on (a run's state, the database) are asserted directly instead."""

    def __init__(self) -> None:
        self.failures: list[str] = []

    @contextmanager
    def check(self, what: str) -> Iterator[None]:
        from playwright.sync_api import Error as PlaywrightError

        try:
            yield
        except (AssertionError, PlaywrightError) as exc:
            first = str(exc).strip().splitlines()[:6]
            self.failures.append(f"- {what}：" + "\n    ".join(first))

    def __enter__(self) -> Checks:
        return self

    def __exit__(self, kind: Any, error: BaseException | None, trace: Any) -> None:
        """Fails with every noted check; when a step failed outright, with that first."""
        if not self.failures:
            return
        listed = f"{len(self.failures)} 项检查未通过（checks failed）：\n" + "\n".join(
            self.failures
        )
        if error is None:
            pytest.fail(listed, pytrace=False)
        pytest.fail(f"{error}\n\n此前另有 {listed}", pytrace=False)


# --- pages ----------------------------------------------------------------------------------


def _label_test(title: str) -> str:
    assert "'" not in title, title
    return f"(normalize-space()='{title}' or normalize-space()='{title} (Optional)')"


@dataclass
class PrefectUI:
    """One version of the UI in one page."""

    page: Any
    ui_url: str
    version: Version

    def url(self, path: str) -> str:
        return f"{self.ui_url}{'/v2' if self.version == 'v2' else ''}{path}"

    # runs and forms

    def open_run(self, run_id: Any) -> None:
        self.page.goto(self.url(f"/runs/flow-run/{run_id}"))

    def open_resume_form(self, run_id: Any) -> Any:
        """The run's page, then its resume form; the dialog, once its form is drawn."""
        from playwright.sync_api import expect

        self.open_run(run_id)
        if self.version == "v1":
            self.page.get_by_role("button", name="Resume").first.click()
        else:
            self.page.get_by_role("button", name="Open menu").click()
            self.page.get_by_role("menuitem", name="Resume").click()
        form = self.page.get_by_role("dialog")
        expect(form.locator("textarea").first).to_be_visible()
        return form

    def description(self, form: Any) -> Any:
        """The Markdown the flow put above the form."""
        selector = "article.markdown-renderer" if self.version == "v1" else ".prose"
        return form.locator(selector).first

    def field(self, scope: Any, title: str) -> Any:
        """The field titled `title` (its label and its control) inside `scope`."""
        if self.version == "v1":
            xpath = (
                ".//div[contains(concat(' ', normalize-space(@class), ' '), "
                "' schema-form-property ')][./div[contains(@class, 'p-label__header')]"
                f"//span[contains(@class, 'schema-form-property__label')][{_label_test(title)}]]"
            )
        else:
            xpath = (
                ".//div[contains(concat(' ', normalize-space(@class), ' '), ' group ')]"
                f"[./div[1]//label[{_label_test(title)}]]"
            )
        return scope.locator(f"xpath={xpath}").first

    def fill(self, scope: Any, title: str, value: str) -> None:
        self.field(scope, title).locator("textarea, input").first.fill(value)

    def list_items(self, scope: Any, title: str) -> Any:
        if self.version == "v1":
            return self.field(scope, title).locator(".p-draggable-list__item")
        return self.field(scope, title).locator(
            "xpath=.//div[./button[@aria-label='Drag to reorder']]"
        )

    def list_item(self, scope: Any, title: str, index: int = 0) -> Any:
        """Item `index` of the list field `title`, adding items until it exists (a form shown
        again may keep the items of the answer before)."""
        from playwright.sync_api import expect

        items = self.list_items(scope, title)
        while items.count() <= index:
            before = items.count()
            self.field(scope, title).get_by_role("button", name="Add item").click()
            expect(items).to_have_count(before + 1)
        return items.nth(index)

    def choose(self, scope: Any, title: str, option: str) -> list[str]:
        """Choose `option` in the select (enum) titled `title`; the options it offered."""
        from playwright.sync_api import expect

        field = self.field(scope, title)
        options = self.page.get_by_role("option")
        if self.version == "v1":
            control = field.locator(".p-select-button__control").first
            control.focus()
            control.press("ArrowDown")
        else:
            field.locator("button[aria-haspopup=listbox]").first.click()
        expect(options.first).to_be_visible()
        offered = [text.strip() for text in options.all_inner_texts()]
        self.page.get_by_role("option", name=option, exact=True).click()
        expect(options).to_have_count(0)
        expect(field).to_contain_text(option)
        return offered

    def submit(self, form: Any) -> None:
        from playwright.sync_api import expect

        form.get_by_role("button", name="Submit" if self.version == "v1" else "Resume").click()
        expect(form).to_be_hidden()

    # artifacts and pictures

    def open_artifact(self, artifact_id: Any) -> None:
        self.page.goto(self.url(f"/artifacts/artifact/{artifact_id}"))

    def screenshot(self, name: str, *, full_page: bool = False) -> Path:
        """`var/screenshots/<version>-<name>.png` under the project root."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.version}-{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


def follow_link(page: Any, link: Any) -> Any:
    """Click `link` as an operator does; the page it opens (V1 opens Markdown links in a new
    tab, `target=_blank`)."""
    if link.get_attribute("target") == "_blank":
        with page.context.expect_page() as opened:
            link.click()
        new = opened.value
        new.wait_for_load_state()
        return new
    link.click()
    return page


_CLIPPED = """(element) => {
  // Every box from the element up to the dialog that is narrower than what it holds: there the
  // operator would have to scroll sideways (or cannot see the rest at all).
  const found = [];
  // V1's role=dialog is the whole-page overlay; its card is the modal the operator sees.
  const dialog = element.closest('.p-modal__card') || element.closest('[role=dialog]');
  let scroller = null;
  for (let node = element; node; node = node.parentElement) {
    const style = getComputedStyle(node);
    if (node.scrollWidth > node.clientWidth + 1 && style.overflowX !== 'visible') {
      found.push(`${node.tagName.toLowerCase()}.${node.className}`.slice(0, 80)
                 + ` scrollWidth=${node.scrollWidth} clientWidth=${node.clientWidth}`);
    }
    if (!scroller && node !== element && ['auto', 'scroll'].includes(style.overflowY)) {
      scroller = node;
    }
    if (node === dialog) break;
  }
  const box = (node) => { const r = node.getBoundingClientRect();
                          return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  return {clipped: found, element: box(element), dialog: box(dialog),
          scroller: box(scroller || dialog)};
}"""


def assert_fully_visible(element: Any) -> None:
    """`element` is seen in its dialog as the dialog opens: whole within the dialog's width, with
    nothing between them scrolling sideways, and starting within the first screen of the dialog's
    scrolled area (its first line seen without scrolling down). Measures without scrolling
    anything: call it before clicking in the form."""
    from playwright.sync_api import expect

    expect(element).to_be_visible()
    seen = element.evaluate(_CLIPPED)
    box, dialog, scroller = seen["element"], seen["dialog"], seen["scroller"]
    assert not seen["clipped"], f"需横向滚动才能看全（scrolls sideways）：{seen['clipped']}"
    wider = f"超出对话框宽度（wider than the dialog）：{box} 不在 {dialog} 内"
    assert dialog["left"] - 0.5 <= box["left"], wider
    assert box["right"] <= dialog["right"] + 0.5, wider
    # Downwards the review may go on (the form scrolls), but the operator must see the first
    # line of it without scrolling: what needs checking comes first.
    lower = f"需向下滚动才能看到（below the fold）：{box} 不在 {scroller} 内"
    assert scroller["top"] - 0.5 <= box["top"], lower
    assert box["top"] + FIRST_LINE_PX <= scroller["bottom"], lower
