"""The report pages (统计报表) at /reports, for finance and station managers: a staff login, then
pages of charts with the numbers behind each chart in a table (and as CSV), printable to PDF by the
browser (the print stylesheet fits them to A4).

Every number comes from the gateway's keyun.v1.Reports service, called with the staff member's
own token, kept in the sealed session cookie: the gateway checks report_read on every call, and
these pages check it once more at login, so that an account without it is told so plainly.

A report page is one function and one template (docs/web.md, "Adding a report page"):

    @report_page("/reports/sales", "reports.sales.title", "reports.sales.blurb")
    async def sales(request, session) -> ReportContent: ...

and templates/reports/sales.html, which shows the content's figures with the `figure` macro.  The
decorator adds the page, its CSV downloads (PATH.csv?figure=NAME) and its card on /reports.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from markupsafe import Markup

from keyun.engine.permissions import PERMISSIONS_OF, Permission, Role
from keyun.terminals import printing
from keyun.terminals.client import KeyunError
from keyun.v1 import accounts_pb2, reports_pb2

from . import i18n
from .app import Part, add_part, gateway, render
from .charts import Series, Table, bar_chart, heat_map, line_chart
from .limits import AddressLimiter
from .reports_messages import MESSAGES
from .session import Session, get_session

i18n.register(MESSAGES)

CHINA = dt.timezone(dt.timedelta(hours=8))
PART = "reports"
# Staff login POSTs from one client address per minute before the web process itself refuses
# (the gateway also backs off and locks per account).
LOGIN_LIMIT = 20
LOGIN_WINDOW_S = 60.0
# The longest period a page asks for: a year of days is still a readable line chart.
MAX_DAYS = 366
# Lines read from a paged report at most, for one chart (the gateway pages at up to 1000).
MAX_LINES = 5000
LIMITER = web.AppKey("reports_limiter", AddressLimiter)
# The sales report's groups a page may ask for bars by (reports.proto, SalesReportRequest).
SALES_GROUPS = ("route", "channel", "ticket_type", "operator", "trip", "seller", "device", "service_date")


# ---- the framework: what a report page returns, and how it is served ---------------------------


@dataclass(frozen=True)
class Figure:
    """A chart and the numbers behind it; `name` names its CSV download."""

    name: str
    title: str
    chart: Markup
    table: Table


@dataclass
class ReportContent:
    """What a report page's function returns: its figures, and anything else its template shows
    (the form's values, a summary)."""

    figures: list[Figure] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)


PageFunction = Callable[[web.Request, Session], Awaitable[ReportContent]]


@dataclass(frozen=True)
class ReportPage:
    path: str
    title_key: str
    blurb_key: str
    function: PageFunction

    @property
    def template(self) -> str:
        return f"reports/{self.path.rsplit('/', 1)[-1]}.html"


REPORT_PAGES: list[ReportPage] = []


def report_page(path: str, title_key: str, blurb_key: str) -> Callable[[PageFunction], PageFunction]:
    """Make `function` a report page at `path` (template reports/LAST_PART_OF_PATH.html), with its
    CSV downloads at PATH.csv?figure=NAME and its card on /reports."""

    def register(function: PageFunction) -> PageFunction:
        REPORT_PAGES.append(ReportPage(path, title_key, blurb_key, function))
        return function

    return register


def setup(app: web.Application) -> None:
    app[LIMITER] = AddressLimiter(LOGIN_LIMIT, LOGIN_WINDOW_S)
    add_part(app, Part("reports.part", "/reports", "reports.blurb"))
    routes = app.router
    routes.add_get("/reports", index)
    routes.add_get("/reports/login", login_form)
    routes.add_post("/reports/login", login)
    routes.add_post("/reports/logout", logout)
    routes.add_get("/reports/logout", logout_by_get)
    for report in REPORT_PAGES:
        routes.add_get(report.path, _html_handler(report))
        routes.add_get(report.path + ".csv", _csv_handler(report))


def staff(request: web.Request) -> Session:
    """The session of a staff member logged in to the report pages; anyone else goes to the login."""
    session = get_session(request)
    if not (session.logged_in and session.part == PART):
        raise web.HTTPSeeOther("/reports/login?next=" + urllib.parse.quote(request.path_qs, safe="/"))
    return session


def _html_handler(report: ReportPage):
    async def handler(request: web.Request) -> web.Response:
        session = staff(request)
        content = await report.function(request, session)
        return page(request, report.template, report=report, figures=content.figures, **content.context)

    return handler


def _csv_handler(report: ReportPage):
    async def handler(request: web.Request) -> web.Response:
        session = staff(request)
        content = await report.function(request, session)
        wanted = request.query.get("figure", "")
        for figure in content.figures:
            if figure.name == wanted:
                name = f"{report.path.rsplit('/', 1)[-1]}-{figure.name}.csv"
                # A BOM so that spreadsheets read the Chinese as UTF-8.
                return web.Response(
                    body=("\ufeff" + figure.table.csv()).encode(),
                    content_type="text/csv",
                    charset="utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'},
                )
        raise web.HTTPNotFound()

    return handler


def page(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    context.setdefault("error", "")
    return render(
        request,
        template,
        status=status,
        pages=REPORT_PAGES,
        csv_query=_csv_query(request),
        printed_at=dt.datetime.now(CHINA).strftime("%Y-%m-%d %H:%M (UTC+8)"),
        **context,
    )


def _csv_query(request: web.Request) -> Callable[[str], str]:
    """The CSV link of a figure on this page: the page's own query (its period, its groups)."""

    def link(name: str) -> str:
        query = {key: value for key, value in request.query.items() if key not in ("figure", "lang")}
        query["figure"] = name
        return str(request.rel_url.with_path(request.path + ".csv").with_query(query))

    return link


def see_other(path: str) -> web.Response:
    """A redirect returned, not raised: the session middleware then keeps the session's changes."""
    return web.Response(status=303, headers={"Location": path})


async def logout_by_get(request: web.Request) -> web.Response:
    """The logout form's address asked for by GET (the language switch after a logout): no logout,
    since a GET never changes anything; the start page instead."""
    raise web.HTTPSeeOther("/reports")


# ---- login and logout --------------------------------------------------------------------------


def may_read_reports(roles: Iterable[str]) -> bool:
    """Whether any of the account's roles grants report_read (a role this release does not know
    grants nothing).  The gateway checks it again on every call."""
    known = {role.value: role for role in Role}
    return any(Permission.REPORT_READ in PERMISSIONS_OF[known[name]] for name in roles if name in known)


async def index(request: web.Request) -> web.Response:
    staff(request)
    return page(request, "reports/index.html")


async def login_form(request: web.Request) -> web.Response:
    return page(request, "reports/login.html", login_name="", next=next_page(request.query.get("next", "")), totp=False)


def next_page(path: str) -> str:
    """Where to go after the login: only a report page of this site (never another site)."""
    return path if path.startswith("/reports") and not path.startswith("//") else "/reports"


async def login(request: web.Request) -> web.Response:
    data = {key: str(value).strip() for key, value in (await request.post()).items()}
    login_name, after = data.get("login_name", ""), next_page(data.get("next", ""))
    _ = i18n.translator(get_session(request).lang)
    form = {"login_name": login_name, "next": after, "totp": bool(data.get("totp_code"))}
    if wait_s := request.app[LIMITER].retry_after(request.remote or ""):
        response = page(
            request,
            "reports/login.html",
            status=429,
            error=_("reports.too_many", seconds=max(1, round(wait_s))),
            **form,
        )
        response.headers["Retry-After"] = str(max(1, round(wait_s)))
        return response
    gw = gateway(request)
    try:
        reply = await gw.call(
            gw.accounts.Login,
            accounts_pb2.LoginRequest(
                login_name=login_name, password=data.get("password", ""), totp_code=data.get("totp_code", "")
            ),
        )
    except KeyunError as error:
        status = 429 if error.reason in ("LOGIN_THROTTLED", "TOO_MANY_LOGIN_ATTEMPTS") else 401
        # Staff wording where the passenger site's would not fit ("wrong mobile number").
        own = f"reports.reason.{error.reason}"
        text = _(own) if _(own) != own else i18n.reason_text(error.reason, get_session(request).lang, error.message)
        # An account with a second factor: the form asks for the code, the password again.
        form["totp"] = form["totp"] or error.reason == "SECOND_FACTOR_REQUIRED"
        return page(request, "reports/login.html", status=status, error=text, **form)
    if not may_read_reports(reply.account.roles):
        # Not kept: the token is handed back at once, and the visitor is told why.
        session = Session(access=reply.access_token, refresh=reply.refresh_token)
        try:
            await gw.call(gw.accounts.Logout, accounts_pb2.LogoutRequest(), session)
        except KeyunError:
            pass  # the refusal stands either way; the token expires on its own
        return page(request, "reports/refused.html", status=403, who=reply.account.login_name)
    get_session(request).login(
        reply.access_token, reply.refresh_token, reply.account.display_name or reply.account.login_name, PART
    )
    return see_other(after)


async def logout(request: web.Request) -> web.Response:
    session = get_session(request)
    if session.logged_in and session.part == PART:
        gw = gateway(request)
        try:
            await gw.call(gw.accounts.Logout, accounts_pb2.LogoutRequest(), session)
        except KeyunError:
            pass  # an expired or revoked session: forgetting the cookie's tokens is all that is left
        session.clear()
    return see_other("/reports/login")


# ---- asking the gateway ------------------------------------------------------------------------


async def every_line(
    request: web.Request, session: Session, method: Callable[..., Any], message: Any, field: str = "lines"
) -> list[Any]:
    """Every line of a paged Reports call, page after page (at most MAX_LINES): `message` is its
    request, with page_size and page_token; each reply has `field` and next_page_token."""
    gw = gateway(request)
    lines: list[Any] = []
    message.page_size = 1000
    while True:
        reply = await gw.call(method, message, session)
        lines.extend(getattr(reply, field))
        message.page_token = reply.next_page_token
        if not reply.next_page_token or len(lines) >= MAX_LINES:
            return lines


async def sales_lines(
    request: web.Request, session: Session, group_by: Sequence[str], first: dt.date, last: dt.date
) -> list[reports_pb2.SalesLine]:
    """Every line of Reports.SalesReport for the period, grouped by `group_by`."""
    query = reports_pb2.SalesReportRequest(
        group_by=list(group_by), from_date=first.isoformat(), to_date=last.isoformat()
    )
    return await every_line(request, session, gateway(request).reports.SalesReport, query)


def today() -> dt.date:
    return dt.datetime.now(CHINA).date()


@dataclass(frozen=True)
class Period:
    first: dt.date
    last: dt.date
    error: str = ""

    @property
    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def period(request: web.Request, default_days: int = 7) -> Period:
    """The page's period from its `from` and `to` (local dates, inclusive): the last week by
    default; a bad or too long one is said on the page, and the default shown instead."""
    _ = i18n.translator(get_session(request).lang)
    last_default = today()
    default = Period(last_default - dt.timedelta(days=default_days - 1), last_default)
    raw_first, raw_last = request.query.get("from", ""), request.query.get("to", "")
    if not raw_first and not raw_last:
        return default
    try:
        first = dt.date.fromisoformat(raw_first or raw_last)
        last = dt.date.fromisoformat(raw_last or raw_first)
    except ValueError:
        return Period(default.first, default.last, _("reports.bad_date"))
    if last < first:
        return Period(default.first, default.last, _("reports.bad_period"))
    if (last - first).days >= MAX_DAYS:
        return Period(default.first, default.last, _("reports.too_long", days=MAX_DAYS))
    return Period(first, last)


def yuan_number(fen: int) -> float:
    return fen / 100


def money(value: float) -> str:
    return f"¥{value:,.0f}" if float(value).is_integer() else f"¥{value:,.2f}"


# ---- the pages ---------------------------------------------------------------------------------

# The sales measures in the totals table, in order; money measures are in fen.
TOTALS = (
    ("tickets", False),
    ("passengers", False),
    ("revenue_fen", True),
    ("base_fen", True),
    ("service_fee_fen", True),
    ("fuel_surcharge_fen", True),
    ("insurance_fen", True),
    ("refunds", False),
    ("refund_fen", True),
    ("refund_fee_fen", True),
    ("changes", False),
    ("changed_fen", True),
    ("voids", False),
    ("voided_fen", True),
    ("checked_in", False),
    ("net_fen", True),
    ("passenger_km", False),
    ("no_shows", False),
    ("no_show_fen", True),
)


@report_page("/reports/sales", "reports.sales.title", "reports.sales.blurb")
async def sales(request: web.Request, session: Session) -> ReportContent:
    _ = i18n.translator(session.lang)
    span = period(request)
    by = request.query.get("by", "route")
    if by not in SALES_GROUPS:
        by = "route"
    whole = await sales_lines(request, session, (), span.first, span.last)
    by_day = {line.group[0]: line for line in await sales_lines(request, session, ("day",), span.first, span.last)}
    grouped = await sales_lines(request, session, (by,), span.first, span.last)
    channel_type = await sales_lines(request, session, ("channel", "ticket_type"), span.first, span.last)
    days = [day.isoformat() for day in span.days]
    group_name = _(f"reports.group.{by}")
    figures = [
        _revenue_by_day(_, days, by_day),
        _by_group(_, by, group_name, grouped),
        _channel_by_ticket_type(_, channel_type),
        _tickets_heat_map(_, days, await sales_lines(request, session, ("day", "channel"), span.first, span.last)),
    ]
    totals = whole[0] if whole else reports_pb2.SalesLine()
    table = [
        (_(f"reports.measure.{name}"), printing.yuan(getattr(totals, name)) if is_money else getattr(totals, name))
        for name, is_money in TOTALS
    ]
    return ReportContent(
        figures,
        {
            "period": span,
            "by": by,
            "groups": SALES_GROUPS,
            "totals": table,
        },
    )


def _revenue_by_day(_, days: list[str], by_day: dict[str, reports_pb2.SalesLine]) -> Figure:
    revenue = tuple(yuan_number(by_day[d].revenue_fen) if d in by_day else 0.0 for d in days)
    net = tuple(yuan_number(by_day[d].net_fen) if d in by_day else 0.0 for d in days)
    labels = [d[5:] for d in days]  # MM-DD: the year is in the period above the chart
    title = _("reports.sales.by_day")
    chart = line_chart(
        title,
        _("reports.sales.by_day.desc", first=days[0], last=days[-1]),
        labels,
        [Series(_("reports.measure.revenue_fen"), revenue), Series(_("reports.measure.net_fen"), net)],
        money,
    )
    headers = (
        _("reports.group.day"),
        _("reports.measure.tickets"),
        _("reports.measure.revenue_fen"),
        _("reports.measure.refund_fen"),
        _("reports.measure.net_fen"),
    )
    rows = tuple(
        (
            d,
            by_day[d].tickets if d in by_day else 0,
            f"{revenue[i]:.2f}",
            f"{yuan_number(by_day[d].refund_fen) if d in by_day else 0:.2f}",
            f"{net[i]:.2f}",
        )
        for i, d in enumerate(days)
    )
    return Figure("by_day", title, chart, Table(headers, rows))


def _by_group(_, by: str, group_name: str, lines: list[reports_pb2.SalesLine]) -> Figure:
    labels = [line.group[0] or "—" for line in lines]
    measures = ("revenue_fen", "refund_fen", "net_fen")
    series = [
        Series(_(f"reports.measure.{m}"), tuple(yuan_number(getattr(line, m)) for line in lines)) for m in measures
    ]
    title = _("reports.sales.by_group", group=group_name)
    chart = bar_chart(title, _("reports.sales.by_group.desc", group=group_name), labels, series, fmt=money)
    headers = (group_name, _("reports.measure.tickets"), *(_(f"reports.measure.{m}") for m in measures))
    rows = tuple(
        (label, line.tickets, *(f"{yuan_number(getattr(line, m)):.2f}" for m in measures))
        for label, line in zip(labels, lines, strict=True)
    )
    return Figure(f"by_{by}", title, chart, Table(headers, rows))


def _channel_by_ticket_type(_, lines: list[reports_pb2.SalesLine]) -> Figure:
    channels = sorted({line.group[0] for line in lines})
    types = sorted({line.group[1] for line in lines})
    revenue = {(line.group[0], line.group[1]): yuan_number(line.revenue_fen) for line in lines}
    series = [Series(_type_name(_, t), tuple(revenue.get((c, t), 0.0) for c in channels)) for t in types]
    labels = [_channel_name(_, c) for c in channels]
    title = _("reports.sales.by_channel")
    chart = bar_chart(title, _("reports.sales.by_channel.desc"), labels, series, stacked=True, fmt=money)
    headers = (_("reports.group.channel"), _("reports.group.ticket_type"), _("reports.measure.revenue_fen"))
    rows = tuple((_channel_name(_, c), _type_name(_, t), f"{revenue[(c, t)]:.2f}") for c, t in sorted(revenue))
    return Figure("by_channel_type", title, chart, Table(headers, rows))


def _tickets_heat_map(_, days: list[str], lines: list[reports_pb2.SalesLine]) -> Figure:
    channels = sorted({line.group[1] for line in lines})
    tickets = {(line.group[0], line.group[1]): line.tickets for line in lines}
    values = [[float(tickets.get((d, c), 0)) for d in days] for c in channels]
    title = _("reports.sales.heat")
    rows = [_channel_name(_, c) for c in channels]
    chart = heat_map(title, _("reports.sales.heat.desc"), rows, [d[5:] for d in days], values)
    headers = (_("reports.group.day"), _("reports.group.channel"), _("reports.measure.tickets"))
    table_rows = tuple((d, _channel_name(_, c), n) for (d, c), n in sorted(tickets.items()))
    return Figure("tickets_day_channel", title, chart, Table(headers, table_rows))


def _channel_name(_, channel: str) -> str:
    text = _(f"reports.channel.{channel}")
    return channel if text.startswith("reports.channel.") else text


def _type_name(_, ticket_type: str) -> str:
    text = _(f"reports.ticket_type.{ticket_type}")
    return ticket_type if text.startswith("reports.ticket_type.") else text


@report_page("/reports/status", "reports.status.title", "reports.status.blurb")
async def status(request: web.Request, session: Session) -> ReportContent:
    _ = i18n.translator(session.lang)
    gw = gateway(request)
    reply = await gw.call(gw.reports.ProjectionStatus, reports_pb2.ProjectionStatusRequest(), session)
    owners = list(reply.owners)
    title = _("reports.status.chart")
    chart = bar_chart(
        title,
        _("reports.status.chart.desc"),
        [owner.owner for owner in owners],
        [
            Series(_("reports.status.events"), tuple(float(o.events) for o in owners)),
            Series(_("reports.status.behind"), tuple(float(o.behind) for o in owners)),
        ],
    )
    headers = tuple(_(f"reports.status.{name}") for name in ("owner", "lsn", "records", "events", "behind", "gaps"))
    rows = tuple((o.owner, o.lsn, o.records, o.events, o.behind, o.gaps) for o in owners)
    figure = Figure("owners", title, chart, Table(headers, rows))
    return ReportContent([figure], {"behind_seconds": reply.behind_seconds, "failure": reply.failure})


# The pages for loads, shifts, the funnel and behaviour, after these two (their module uses this one's).
from . import reports_more, reports_settlement  # noqa: E402, F401
