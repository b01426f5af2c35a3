"""FastAPI dependencies: how a route reaches the store, config and clock the app was created with."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request

from monitor.config import Config
from monitor.store import Store


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_config(request: Request) -> Config:
    return request.app.state.config


def get_now(request: Request) -> datetime:
    """The time an action happens at: the app's clock (tests pass a fixed one)."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


StoreDep = Annotated[Store, Depends(get_store)]
ConfigDep = Annotated[Config, Depends(get_config)]
NowDep = Annotated[datetime, Depends(get_now)]
