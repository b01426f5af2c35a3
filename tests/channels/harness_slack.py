"""Contract harness for the Slack channel: Block Kit POSTed to an incoming webhook on loopback."""

from __future__ import annotations

from tests.channels.harness import ChatWebhookHarness


class SlackHarness(ChatWebhookHarness):
    name = "slack"
    url_env = "EARSHOT_CONTRACT_SLACK_URL"
    token = "slack-token-7Hq2vX"


def make_harness() -> SlackHarness:
    return SlackHarness()
