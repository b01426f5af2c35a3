"""Contract harness for the email channel: a real SMTP server on loopback, STARTTLS and a login required."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.test_alert_support import SmtpReceiver, self_signed_cert


class EmailHarness:
    name = "email"
    can_fail = True
    password_env = "EARSHOT_CONTRACT_SMTP_PASSWORD"
    password = "smtp-pass-Kd03qz"

    def start(self, tmp_path: Path) -> None:
        self.cert = self_signed_cert(tmp_path)
        self.server = SmtpReceiver(security="starttls", cert=self.cert, login=("alerts@brisa.example", self.password))

    def stop(self) -> None:
        self.server.stop()

    def env(self) -> dict[str, str]:
        return {self.password_env: self.password}

    def secrets(self) -> list[str]:
        return [self.password]

    def settings(self) -> dict[str, Any]:
        return {"type": "email", "host": "127.0.0.1", "port": self.server.port, "security": "starttls",
                "ca_file": str(self.cert[0]), "username": "alerts@brisa.example", "password_env": self.password_env,
                "sender": "Earshot <alerts@brisa.example>", "to": ["care@brisa.example"]}

    def received(self) -> list[str]:
        return [f"{e.message['Subject']}\n{e.message.get_body(('plain',)).get_content()}" for e in self.server.received]

    def go_down(self) -> None:
        self.server.stop()  # connection refused

    def recover(self) -> None:
        self.server.start()


def make_harness() -> EmailHarness:
    return EmailHarness()
