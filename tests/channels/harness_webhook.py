"""Contract harness for the signed webhook: both its URL (with a token) and its signing key from the environment."""

from __future__ import annotations

from typing import Any

from tests.channels.harness import ChatWebhookHarness


class WebhookHarness(ChatWebhookHarness):
    name = "webhook"
    url_env = "EARSHOT_CONTRACT_HOOK_URL"
    token = "hook-token-Pz81aa"
    secret_env = "EARSHOT_CONTRACT_HOOK_SECRET"
    signing_key = "whsec-contract-5be0f2"

    def env(self) -> dict[str, str]:
        return {**super().env(), self.secret_env: self.signing_key}

    def secrets(self) -> list[str]:
        return [self.token, self.signing_key]

    def settings(self) -> dict[str, Any]:
        return {**super().settings(), "secret_env": self.secret_env}


def make_harness() -> WebhookHarness:
    return WebhookHarness()
