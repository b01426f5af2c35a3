"""Contract harness for the Teams channel: an Adaptive Card POSTed to a Workflows webhook on loopback."""

from tests.channels.harness import chat_harness

TeamsHarness = chat_harness("teams", url_env="EARSHOT_CONTRACT_TEAMS_URL", token="teams-sig-c41Dd9")
make_harness = TeamsHarness
