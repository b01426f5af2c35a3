"""The inbox as *cases*: one card per post, however many times it escalated.

A post that goes warning -> critical has two alerts; showing both would make the team
handle the same complaint twice. A case groups a post's alerts: the card shows the
most severe active one with the escalation history, and the card's actions apply to
the post's alerts (`monitor.triage.*_case`). A storm alert is a case on its own.

Topic and team come from the alert, or from its post when the alert predates topic
tagging, so routing and filters work for old alerts too.

The store picks, filters, orders and pages the cases (`Store.alert_cases`); this module turns
one page of primary alerts into cards with three reads whatever the page's size: the posts'
alerts, the posts, and their engagement snapshots for the sparklines.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from monitor.models import Alert, AlertState, Mention, Severity
from monitor.noise.marks import ClusterStats, NoiseMark
from monitor.store import Store
from monitor.store.base import CaseQuery
from monitor.triage import ACTIVE_STATES, case_key
from monitor.web import charts, queries
from monitor.web.charts import Sparkline

ME = "me"  # assignee filter values with a meaning of their own
UNASSIGNED = "unassigned"


@dataclass(frozen=True)
class Case:
    primary: Alert  # the most severe active alert (the most severe of all, if the case is closed)
    alerts: list[Alert]  # every alert of the post, lowest severity first: the escalation history
    mention: Mention | None
    spark: Sparkline | None = None
    noise: NoiseMark | None = None  # the post's spam flag and reasons (monitor/noise)
    cluster: ClusterStats | None = None  # its copies, when others posted the same text

    @property
    def key(self) -> str:
        return case_key(self.primary)

    @property
    def active(self) -> list[Alert]:
        return [a for a in self.alerts if a.state in ACTIVE_STATES]

    @property
    def state(self) -> AlertState:
        """Open if any alert still waits for a first look; else the primary's state."""
        return AlertState.open if any(a.state == AlertState.open for a in self.alerts) else self.primary.state

    @property
    def topic(self) -> str | None:
        return self.primary.topic or (self.mention.topic if self.mention else None)

    @property
    def team(self) -> str | None:
        return self.primary.team or (self.mention.team if self.mention else None)

    @property
    def assignee(self) -> str | None:
        return self.primary.assignee

    @property
    def escalated(self) -> bool:
        return len({a.severity for a in self.alerts}) > 1


@dataclass(frozen=True)
class Filters:
    """The inbox filters; an empty value means "any"."""

    brand: str = ""
    topic: str = ""
    team: str = ""
    assignee: str = ""  # a name, or ME / UNASSIGNED
    severity: str = ""  # a Severity value
    state: str = ""  # an AlertState value; empty: open and acknowledged

    @property
    def active(self) -> bool:
        return any((self.brand, self.topic, self.team, self.assignee, self.severity, self.state))

    def as_params(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}

    def case_query(self, me: str, limit: int, cursor: str | None = None) -> CaseQuery:
        """The store query for these filters; ValueError for a severity or state that is none.

        The inbox lists open and acknowledged cases; a state filter of `open` or `acknowledged`
        picks one of those groups, `resolved` or `dismissed` lists the closed cases instead.
        """
        state = AlertState(self.state) if self.state else None
        closed = state is not None and state not in ACTIVE_STATES
        return CaseQuery(
            states=(state,) if closed and state else ACTIVE_STATES,
            case_state=None if closed else state,
            brand=self.brand, topic=self.topic, team=self.team,
            severity=Severity(self.severity) if self.severity else None,
            assignee=me if self.assignee == ME else "" if self.assignee == UNASSIGNED else self.assignee,
            unassigned=self.assignee == UNASSIGNED,
            limit=limit, cursor=cursor,
        )

    def accepts(self, *, brand: str, topic: str | None, team: str | None, assignee: str | None,
                severity: Severity, me: str) -> bool:
        def same(value: str | None, wanted: str) -> bool:
            return not wanted or (value or "").casefold() == wanted.casefold()

        if self.assignee == ME:
            assignee_ok = same(assignee, me)
        elif self.assignee == UNASSIGNED:
            assignee_ok = assignee is None
        else:
            assignee_ok = same(assignee, self.assignee)
        return (same(brand, self.brand) and same(topic, self.topic) and same(team, self.team)
                and same(severity.value, self.severity) and assignee_ok)

    def alert(self, alert: Alert, mention: Mention | None, me: str) -> bool:
        return self.accepts(brand=alert.brand, topic=alert.topic or (mention.topic if mention else None),
                            team=alert.team or (mention.team if mention else None), assignee=alert.assignee,
                            severity=alert.severity, me=me)


def _primary(alerts: Sequence[Alert]) -> Alert:
    pool = [a for a in alerts if a.state in ACTIVE_STATES] or list(alerts)
    return max(pool, key=lambda a: (a.severity.rank, a.created_at, a.id))


def build_cases(store: Store, primaries: Iterable[Alert], with_sparks: bool = True,
                pick_primary: bool = False) -> list[Case]:
    """The cases of `primaries` (one alert per case, in the order to show), each with every alert
    of its post, its post and its sparkline: three store reads for the whole page.

    The given alerts are the cards' primaries (the store chose them for the inbox), unless
    `pick_primary`: then each card shows its post's most severe active alert (an alert's page)."""
    primaries = list(primaries)
    mention_ids = list(dict.fromkeys(a.mention_id for a in primaries if a.mention_id))
    firsts: dict[str, Alert] = {}
    groups: dict[str, dict[str, Alert]] = {}
    for alert in primaries:
        firsts.setdefault(case_key(alert), alert)
        groups.setdefault(case_key(alert), {})[alert.id] = alert
    for alert in store.alerts_for(mention_ids):
        groups.setdefault(case_key(alert), {})[alert.id] = alert
    mentions = store.get_mentions(mention_ids)
    series = store.snapshots_of(mention_ids) if with_sparks else {}
    marks = store.noise_of(mention_ids)
    clusters = store.clusters(mention_ids)
    cases = []
    for key, given in firsts.items():
        members = sorted(groups[key].values(), key=lambda a: (a.severity.rank, a.created_at, a.id))
        primary = _primary(members) if pick_primary else groups[key][given.id]
        mention = mentions.get(primary.mention_id) if primary.mention_id else None
        spark = None
        if primary.mention_id in series:
            spark = charts.sparkline(queries.engagement_series(series[primary.mention_id]))
        mid = primary.mention_id or ""
        cases.append(Case(primary, members, mention, spark, marks.get(mid), clusters.get(mid)))
    return cases


@dataclass
class FilterOptions:
    """What the inbox's filter menus offer: configured values plus whatever the alerts carry."""

    brands: list[str] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    severities: list[str] = field(default_factory=lambda: [s.value for s in reversed(Severity)])


def filter_options(brands: Sequence[str], topics: Sequence[str], teams: Sequence[str],
                   people: Sequence[str], cases: Sequence[Case], selected: Filters = Filters()) -> FilterOptions:
    """The configured values, then those of the cases shown and the ones selected (so a filter
    set from a link stays selected in its menu)."""
    def merged(configured: Sequence[str], seen: Iterable[str | None]) -> list[str]:
        out = list(dict.fromkeys(configured))
        out += sorted({s for s in seen if s and s not in out}, key=str.casefold)
        return out

    assignee = selected.assignee if selected.assignee not in (ME, UNASSIGNED) else ""
    return FilterOptions(
        brands=merged(brands, [*(c.primary.brand for c in cases), selected.brand]),
        topics=merged(topics, [*(c.topic for c in cases), selected.topic]),
        teams=merged(teams, [*(c.team for c in cases), selected.team]),
        assignees=merged([*teams, *people], [*(c.assignee for c in cases), assignee]),
    )
