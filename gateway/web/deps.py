"""Dependencies of the routes, as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from gateway.live import LiveView
from gateway.web.services import Services


def get_services(connection: HTTPConnection) -> Services:
    services: Services = connection.app.state.services
    return services


def get_live(connection: HTTPConnection) -> LiveView:
    return get_services(connection).live


ServicesDep = Annotated[Services, Depends(get_services)]
LiveDep = Annotated[LiveView, Depends(get_live)]
