"""The inbox as *cases*: one card per post, however many times it escalated.

A post that goes warning -> critical has two alerts; showing both would make the team
handle the same complaint twice. A case groups a post's alerts: the card shows the
most severe active one with the escalation history, and the card's actions apply to
the post's alerts (`monitor.triage.*_case`). A storm alert is a case on its own.

Topic and team come from the alert, or from its post when the alert predates topic
tagging, so routing and filters work for old alerts too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from monitor.models import Alert, AlertState, Mention, Severity
from monitor.store import Store
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
    severity: str = ""

    @property
    def active(self) -> bool:
        return any((self.brand, self.topic, self.team, self.assignee, self.severity))

    def as_params(self) -> dict[str, str]:
        return {k: v for k, v in vars(self).items() if v}

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

    def case(self, case: Case, me: str) -> bool:
        return self.accepts(brand=case.primary.brand, topic=case.topic, team=case.team, assignee=case.assignee,
                            severity=case.primary.severity, me=me)

    def alert(self, alert: Alert, mention: Mention | None, me: str) -> bool:
        return self.accepts(brand=alert.brand, topic=alert.topic or (mention.topic if mention else None),
                            team=alert.team or (mention.team if mention else None), assignee=alert.assignee,
                            severity=alert.severity, me=me)


def _primary(alerts: Sequence[Alert]) -> Alert:
    pool = [a for a in alerts if a.state in ACTIVE_STATES] or list(alerts)
    return max(pool, key=lambda a: (a.severity.rank, a.created_at, a.id))


def build_cases(store: Store, alerts: Iterable[Alert], with_sparks: bool = True) -> list[Case]:
    """Cases for the posts of `alerts`, each with every alert of its post; most urgent first.

    Most severe first, then newest: a critical post must never hide below a fresh info one.
    """
    alerts = list(alerts)
    mention_ids = {a.mention_id for a in alerts if a.mention_id}
    everything = {a.id: a for a in [*store.alerts_for(mention_ids), *alerts]}
    groups: dict[str, list[Alert]] = {}
    for alert in everything.values():
        groups.setdefault(case_key(alert), []).append(alert)
    wanted = {case_key(a) for a in alerts}
    mentions = store.get_mentions(mention_ids)
    cases = []
    for key, members in groups.items():
        if key not in wanted:
            continue
        members.sort(key=lambda a: (a.severity.rank, a.created_at, a.id))
        primary = _primary(members)
        mention = mentions.get(primary.mention_id) if primary.mention_id else None
        spark = None
        if with_sparks and primary.mention_id:
            spark = charts.sparkline(queries.engagement_series(store.snapshots_for(primary.mention_id)))
        cases.append(Case(primary, members, mention, spark))
    cases.sort(key=lambda c: c.primary.created_at, reverse=True)
    cases.sort(key=lambda c: c.primary.severity.rank, reverse=True)
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
                   people: Sequence[str], cases: Sequence[Case]) -> FilterOptions:
    def merged(configured: Sequence[str], seen: Iterable[str | None]) -> list[str]:
        out = list(dict.fromkeys(configured))
        out += sorted({s for s in seen if s and s not in out}, key=str.casefold)
        return out

    return FilterOptions(
        brands=merged(brands, (c.primary.brand for c in cases)),
        topics=merged(topics, (c.topic for c in cases)),
        teams=merged(teams, (c.team for c in cases)),
        assignees=merged([*teams, *people], (c.assignee for c in cases)),
    )
