"""The `{alert_id:alert_id}` path parameter: any alert id, whatever characters a platform put in it.

Alert ids are built from platform ids, which Earshot does not control: one with a line
break in it still names an alert. Starlette's `path` convertor matches `.*`, which stops
at a newline, so such an alert answered 404 everywhere. This one matches every character
(templates and links percent-encode ids with `url_id`).
"""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor


class AlertIdConvertor(Convertor[str]):
    regex = r"[\s\S]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("alert_id", AlertIdConvertor())
