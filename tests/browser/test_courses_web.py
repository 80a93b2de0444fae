"""Courses in a real browser (issue 20, item 4): a merchant publishes a paid course and schedules
a lesson in the back office; a resident finds it under its category, enrols and pays on the
sandbox, then replays the lesson's recording in a <video> that seeks and plays (the recording made
by the node's recorder from encoded frames, through the service API); 我的课程 shows the progress
— with axe-core on each screen."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import BrowserContext, Dialog, Page, Response, expect

from lago_core.container import Core
from lago_core.courses import CourseSpec, LessonSpec
from lago_core.security.roles import PlatformRole, Principal
from lago_core.settings import Settings

from ..conftest import Account
from ..courses_support import write_recording
from ..test_payments import WEBHOOK, run_worker
from .conftest import WebStack, screenshot, serious_accessibility_violations, signed_in_page

NewContext = Callable[..., Awaitable[BrowserContext]]
MakeAccount = Callable[..., Awaitable[Account]]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The node's ICE on loopback, where the browser reaches it (as tests/browser/test_live_web.py)."""
    return dataclasses.replace(settings, live_ice_addresses=("127.0.0.1",))


async def _accessible(page: Page, name: str) -> None:
    assert await serious_accessibility_violations(page) == [], name
    await screenshot(page, name)


async def test_publish_enrol_pay_and_replay_with_seeking(
    web: WebStack,
    core: Core,
    new_context: NewContext,
    make_account: MakeAccount,
    approve_merchant: Any,
    tmp_path: Path,
) -> None:
    core.settings = dataclasses.replace(core.settings, sandbox_webhook_url=web.url + WEBHOOK)
    owner = await make_account("李老师")
    parent = await make_account("王妈妈")
    row = await core.merchants.create(Principal(owner.id, uuid.uuid4()), "小小工程师")
    await approve_merchant(owner, row["id"])

    # The merchant publishes a course and schedules a lesson.
    office = await signed_in_page(new_context, owner, mobile=False)
    await office.goto("/merchant/courses")
    await expect(office.get_by_role("heading", name="课程管理")).to_be_visible()
    await office.get_by_label("课程名称").fill("乐高机器人入门")
    await office.get_by_label("分类").select_option(label="乐高搭建")
    await office.get_by_label("讲师").fill("李老师")
    await office.get_by_label("价格（元，0 为免费）").fill("88")
    await office.get_by_label("课程介绍").fill("六到十岁,每周一次,动手搭建会动的机器人。")
    await office.get_by_role("button", name="发布课程").click()
    manage = office.get_by_role("button", name="管理 乐高机器人入门")
    await expect(manage).to_have_attribute("aria-expanded", "true")
    # A second thought about the price: the edit form.
    edit = office.get_by_role("form", name="修改课程")
    await edit.get_by_label("价格（元，0 为免费）").fill("99")
    await edit.get_by_role("button", name="保存修改").click()
    await expect(edit.get_by_role("status")).to_have_text("已保存")
    await expect(office.get_by_text("¥99.00").first).to_be_visible()
    await office.get_by_label("课节名称").fill("第一课:齿轮与杠杆")
    await office.get_by_label("上课时间").fill("2030-06-01T10:00")
    await office.get_by_role("button", name="添加课节").click()
    await expect(office.get_by_text("第一课:齿轮与杠杆")).to_be_visible()
    await expect(office.get_by_text("还没有学员报名")).to_be_visible()
    await _accessible(office, "merchant-courses")

    (course,) = await core.courses.store.of_merchant(row["id"])
    (lesson,) = await core.courses.store.lessons(course["id"])
    # The lesson's recording, as the node's recorder writes it, put where a class's goes.
    recorded = write_recording(tmp_path / "class.webm", seconds=6)
    key = f"recordings/{lesson['id']}/browser.webm"
    data = recorded.path.read_bytes()
    await core.storage.put(key, data, "video/webm")
    await core.courses.attach_recording(
        lesson["id"], key, len(data), recorded.duration_ms, recorded.video_frames
    )

    # The resident finds it by category, enrols and pays.
    page = await signed_in_page(new_context, parent)
    await page.goto("/courses")
    await expect(page.get_by_role("heading", name="课程", exact=True)).to_be_visible()
    await page.get_by_role("button", name="STEM 科学").click()
    await expect(page.get_by_text("暂无课程")).to_be_visible()
    await page.get_by_role("button", name="乐高搭建").click()
    await expect(page.get_by_role("link", name="乐高机器人入门")).to_be_visible()
    await _accessible(page, "resident-courses")
    await page.get_by_role("link", name="乐高机器人入门").click()
    await expect(page.get_by_test_id("course-price")).to_have_text("¥99.00")
    # Not enrolled: no replay yet.
    await expect(page.get_by_role("link", name="观看回放")).to_have_count(0)
    await page.get_by_role("button", name="收藏").click()
    await expect(page.get_by_role("button", name="取消收藏")).to_be_visible()
    await page.get_by_role("button", name="报名并支付 ¥99.00").click()
    await page.get_by_role("button", name="确认支付（沙箱）").click()
    await expect(page.get_by_role("status").filter(has_text="正在确认支付")).to_be_visible()
    await run_worker(web.settings, core)  # the provider's webhook: the capture enrols
    await expect(page.get_by_text("已报名", exact=True)).to_be_visible(timeout=15_000)
    await _accessible(page, "resident-course-detail")

    # The replay: a <video> that seeks and plays.
    await page.get_by_role("link", name="观看回放").click()
    video = page.get_by_test_id("replay-video")
    await expect(video).to_be_visible()
    await page.wait_for_function(
        "() => { const v = document.querySelector('video'); return v && v.readyState >= 1 "
        "&& v.duration > 4 && v.duration < 8 }"
    )
    await page.evaluate(
        "() => { const v = document.querySelector('video'); v.muted = true; v.currentTime = 3.5 }"
    )
    await page.wait_for_function(
        "() => { const v = document.querySelector('video'); return !v.seeking "
        "&& Math.abs(v.currentTime - 3.5) < 0.5 }"
    )
    await page.evaluate("() => document.querySelector('video').play()")
    await page.wait_for_function(
        "() => { const v = document.querySelector('video'); return !v.paused "
        "&& v.currentTime > 3.9 && v.videoWidth === 320 }",
        timeout=15_000,
    )
    # The seek went through Range requests (a 206 from the replay endpoint).
    status = await page.evaluate(
        """async (url) => (await fetch(url, {headers: {Range: "bytes=0-99"}})).status""",
        f"/api/v1/course-lessons/{lesson['id']}/recording",
    )
    assert status == 206
    await _accessible(page, "resident-course-replay")

    # Watching to the end completes the lesson (the page reports it when the video ends).
    def final_report(response: Response) -> bool:
        if not response.url.endswith("/watched") or response.request.method != "POST":
            return False
        body = json.loads(response.request.post_data or "{}")
        return bool(body.get("watched_ms", 0) >= 0.9 * recorded.duration_ms)

    async with page.expect_response(final_report) as reported:
        await page.evaluate(
            "() => { const v = document.querySelector('video'); v.currentTime = v.duration - 0.2 }"
        )
        await page.wait_for_function("() => document.querySelector('video').ended")
    assert (await reported.value).status == 200

    await page.goto("/me/courses")
    await expect(page.get_by_text(re.compile(r"已完成 1 / 1 节"))).to_be_visible()
    await _accessible(page, "resident-my-courses")

    # The merchant sees the enrolment.
    await office.reload()
    await office.get_by_role("button", name="管理 乐高机器人入门").click()
    await expect(office.get_by_role("cell", name="王妈妈")).to_be_visible()
    await expect(office.get_by_role("cell", name="完成 1 节")).to_be_visible()


async def test_a_class_goes_live_from_the_camera_and_is_replayed(
    web: WebStack,
    core: Core,
    new_context: NewContext,
    make_account: MakeAccount,
    approve_merchant: Any,
) -> None:
    owner = await make_account("李老师")
    parent = await make_account("王妈妈")
    stranger = await make_account("路人")
    row = await core.merchants.create(Principal(owner.id, uuid.uuid4()), "小小工程师")
    await approve_merchant(owner, row["id"])
    as_owner = Principal(owner.id, uuid.uuid4())
    course = await core.courses.create_course(
        as_owner,
        CourseSpec(
            title="STEM 小实验", category="stem", instructor="李老师", price_fen=0,
            merchant_id=row["id"],
        ),
    )  # fmt: skip
    lesson = await core.courses.add_lesson(
        as_owner, course["id"], LessonSpec("第一课:浮力", core.clock.now(), 30)
    )
    await core.courses.enrol(Principal(parent.id, uuid.uuid4()), course["id"], "k1")

    # The teacher goes live from the back office (Chromium's fake camera).
    office = await signed_in_page(new_context, owner, mobile=False)

    async def accept(dialog: Dialog) -> None:
        await dialog.accept()

    office.on("dialog", accept)
    await office.goto("/merchant/courses")
    await office.get_by_role("button", name="管理 STEM 小实验").click()
    await office.get_by_role("button", name="开始直播").click()
    await expect(office.get_by_role("status").filter(has_text="直播中，正在录制")).to_be_visible(
        timeout=30_000
    )
    await _accessible(office, "merchant-course-studio")

    # An enrolled resident watches; a stranger is refused by the node.
    page = await signed_in_page(new_context, parent)
    await page.goto(f"/courses/{course['id']}")
    await page.get_by_role("link", name="进入直播课堂").click()
    await page.wait_for_function(
        "() => document.querySelector('video')?.videoWidth > 0", timeout=30_000
    )
    first = await _frames(page)
    await page.wait_for_function(
        f"() => document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames > {first + 15}",
        timeout=30_000,
    )
    await _accessible(page, "resident-course-live")
    outsider = await signed_in_page(new_context, stranger)
    await outsider.goto(f"/courses/{course['id']}/lessons/{lesson['id']}/live")
    await expect(outsider.get_by_text("报名后才能观看或评价")).to_be_visible()

    # The class ends; its recording is the replay.
    await office.get_by_role("button", name="结束直播").click()
    await expect(office.get_by_text("第一课:浮力")).to_be_visible()
    await expect(office.get_by_text(re.compile("已结束 · 观看回放"))).to_be_visible(timeout=30_000)
    await page.goto(f"/courses/{course['id']}/lessons/{lesson['id']}/replay")
    await page.wait_for_function(
        "() => { const v = document.querySelector('video'); return v && v.readyState >= 1 "
        "&& v.duration > 0.5 && isFinite(v.duration) }",
        timeout=15_000,
    )
    # The node's own recording seeks as well (FFmpeg wrote its cues when the class ended).
    await page.evaluate(
        "() => { const v = document.querySelector('video'); v.muted = true;"
        " v.currentTime = v.duration / 2 }"
    )
    await page.wait_for_function(
        "() => { const v = document.querySelector('video'); return !v.seeking "
        "&& v.currentTime > 0.2 && Math.abs(v.currentTime - v.duration / 2) < 1 }"
    )
    ended = await core.courses.lesson(lesson["id"])
    assert ended["recording_frames"] > 15
    assert ended["live_status"] == "ended"


async def _frames(page: Page) -> int:
    frames: int = await page.evaluate(
        "() => document.querySelector('video').getVideoPlaybackQuality().totalVideoFrames"
    )
    return frames


async def test_an_admin_publishes_a_free_platform_course(
    web: WebStack, core: Core, new_context: NewContext, make_account: MakeAccount
) -> None:
    admin = await make_account("管理员", PlatformRole.ADMIN)
    page = await signed_in_page(new_context, admin, mobile=False)
    await page.goto("/console/courses")
    await expect(page.get_by_role("heading", name="平台课程")).to_be_visible()
    # Platform courses are free: no price to set.
    await expect(page.get_by_label("价格（元，0 为免费）")).to_have_count(0)
    await page.get_by_label("课程名称").fill("社区科学小课堂")
    await page.get_by_label("分类").select_option(label="STEM 科学")
    await page.get_by_label("讲师").fill("平台老师")
    await page.get_by_role("button", name="发布课程").click()
    await expect(page.get_by_role("button", name="管理 社区科学小课堂")).to_be_visible()
    await _accessible(page, "console-platform-courses")
    (course,) = await core.courses.store.of_platform()
    assert (course["owner_kind"], course["price_fen"], course["category"]) == (
        "platform",
        0,
        "stem",
    )
