"""Contract harness for the Teams channel: an Adaptive Card POSTed to a Workflows webhook on loopback."""

from __future__ import annotations

from tests.channels.harness import ChatWebhookHarness


class TeamsHarness(ChatWebhookHarness):
    name = "teams"
    url_env = "EARSHOT_CONTRACT_TEAMS_URL"
    token = "teams-sig-c41Dd9"


def make_harness() -> TeamsHarness:
    return TeamsHarness()
