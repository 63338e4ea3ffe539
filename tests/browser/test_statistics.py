"""A merchant opens the dashboard (the admin's first page) and the statistics page: every chart is
drawn by Chart.js (an instance on a canvas of non-zero size) from the shop's figures, and the
period picker redraws them per week."""

import datetime as dt
import os

import pytest
from django.utils import timezone

from smsnotify.models import Kind, Status
from tests.factories import MessageFactory, fund, make_merchant, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DRAWN = """canvas => {
    const chart = window.Chart && window.Chart.getChart(canvas);
    return {drawn: !!chart, width: canvas.width, height: canvas.height,
            points: chart ? chart.data.datasets.reduce((sum, set) => sum + set.data.length, 0) : 0};
}"""


def _charts(page) -> dict:
    page.wait_for_function("() => window.Chart && document.querySelectorAll('canvas[data-chart]').length > 0 && "
                           "[...document.querySelectorAll('canvas[data-chart]')].every(c => window.Chart.getChart(c))")
    return {canvas.get_attribute("id"): canvas.evaluate(DRAWN) for canvas in page.locator("canvas[data-chart]").all()}


def test_the_dashboard_and_the_statistics_draw_their_charts(page, live_server, admin_login):
    shop = make_shop(name="Chart Shop", time_zone="Europe/Warsaw")
    fund(shop, 500)
    make_merchant(shop, username="charts-m", password="pw-charts-1")
    now = timezone.now()
    for days, status, credits in ((0, Status.DELIVERED, 2), (1, Status.DELIVERED, 2), (3, Status.FAILED, 0),
                                  (9, Status.SENT, 1)):
        MessageFactory(shop=shop, kind=Kind.ORDER_STATUS, status=status, credits_charged=credits,
                       created_at=now - dt.timedelta(days=days), error_code="21211" if status == Status.FAILED else "")
    admin_login("charts-m", "pw-charts-1")

    page.goto(f"{live_server.url}/admin/")
    charts = _charts(page)
    assert list(charts) == ["chart-dashboard-texts"]
    assert charts["chart-dashboard-texts"]["drawn"] and charts["chart-dashboard-texts"]["width"] > 0 \
        and charts["chart-dashboard-texts"]["height"] > 0
    assert charts["chart-dashboard-texts"]["points"] == 14 * 3  # two weeks of sent, delivered, failed
    assert page.locator("#card-credits .stats-big").inner_text() == "500"
    assert page.locator("#table-dashboard-failures").inner_text().count("21211") == 1
    if os.environ.get("STATS_SHOTS"):
        page.screenshot(path=os.path.join(os.environ["STATS_SHOTS"], "dashboard.png"), full_page=True)

    page.get_by_role("link", name="All statistics").click()
    charts = _charts(page)
    assert set(charts) == {"chart-texts", "chart-kinds", "chart-credits", "chart-replies", "chart-satisfaction",
                           "chart-numbers"}
    assert all(chart["drawn"] and chart["width"] > 0 and chart["height"] > 0 for chart in charts.values()), charts
    assert page.locator("#table-texts tbody tr").count() == 30
    if os.environ.get("STATS_SHOTS"):
        page.screenshot(path=os.path.join(os.environ["STATS_SHOTS"], "statistics.png"), full_page=True)

    page.select_option("#id_period", "week")
    page.click("#statistics-form input[type=submit]")
    page.wait_for_url("**period=week**")
    charts = _charts(page)
    weeks = page.locator("#table-texts tbody tr").count()
    assert 5 <= weeks <= 6  # 30 days ago to today, widened to whole weeks from Monday
    assert charts["chart-texts"]["points"] == weeks * 3
    sent = page.locator("#table-texts tbody tr td:nth-of-type(1)").all_inner_texts()
    assert sum(int(figure) for figure in sent) == 3  # two delivered, one sent; the failed one is not sent
