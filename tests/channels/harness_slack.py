"""Contract harness for the Slack channel: Block Kit POSTed to an incoming webhook on loopback."""

from tests.channels.harness import chat_harness

SlackHarness = chat_harness("slack", url_env="EARSHOT_CONTRACT_SLACK_URL", token="slack-token-7Hq2vX")
make_harness = SlackHarness
