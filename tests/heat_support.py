"""Heat's REST API for tests, as one user of the OpenStack fixture's cloud."""

from __future__ import annotations

import time
import uuid
from typing import Any

import requests
from heatclient.common import template_format

from tests.services.openstack import Cloud, Credentials


def stack_name() -> str:
    """A stack name no other test uses."""
    return f"s{uuid.uuid4().hex[:10]}"


class Heat:
    """Heat's REST API as one user of its project."""

    def __init__(self, cloud: Cloud, user: Credentials) -> None:
        self.cloud = cloud
        self.endpoint = cloud.heat_endpoint(user)
        self.headers = {"X-Auth-Token": cloud.keystone.token(user)}

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return requests.request(method, f"{self.endpoint}{path}", headers=self.headers,
                                timeout=60, **kwargs)

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /stacks, then wait for the stack to settle; the stack."""
        created = self.call("POST", "/stacks", json=body)
        assert created.status_code == 201, created.text
        return self.wait(body["stack_name"])

    def wait(self, name: str, seconds: float = 240) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            answer = self.call("GET", f"/stacks/{name}", allow_redirects=True)
            assert answer.status_code == 200, answer.text
            stack: dict[str, Any] = answer.json()["stack"]
            if not stack["stack_status"].endswith("IN_PROGRESS"):
                assert stack["stack_status"].endswith("COMPLETE"), (stack, self.cloud.logs())
                return stack
            time.sleep(1)
        raise AssertionError(f"stack {name} still in progress:\n{self.cloud.logs()}")

    def outputs(self, name: str) -> dict[str, Any]:
        stack = self.call("GET", f"/stacks/{name}", allow_redirects=True).json()["stack"]
        return {o["output_key"]: o["output_value"] for o in stack["outputs"]}

    def physical_ids(self, name: str) -> dict[tuple[str, str], str]:
        """(template path, resource) -> physical id, nested stacks included;
        a nested stack's resources are named by the nested template's path."""
        answer = self.call("GET", f"/stacks/{name}/resources", params={"nested_depth": 1},
                           allow_redirects=True)
        assert answer.status_code == 200, answer.text
        resources = answer.json()["resources"]
        nested = {r["physical_resource_id"]: r["resource_type"].split("/raw/")[1].split("/", 1)[1]
                  for r in resources if "/raw/" in r["resource_type"]}
        ids = {}
        for r in resources:
            stack_id = next(link["href"].rsplit("/", 1)[1] for link in r["links"]
                            if link["rel"] == "stack")
            ids[(nested.get(stack_id, "template.yaml"), r["resource_name"])] = \
                r["physical_resource_id"]
        return ids

    def refusal(self, template: str) -> str | None:
        """Heat's refusal of ``template`` (YAML text), None if it accepts:
        what ``openstack stack create --dry-run`` asks (a stack preview),
        with the template parsed as python-heatclient parses it."""
        body = {"stack_name": stack_name(), "template": template_format.parse(template),
                "files": {}, "environment": {}}
        answer = self.call("POST", "/stacks/preview", json=body)
        if answer.status_code == 200:
            return None
        assert answer.status_code == 400, (answer.status_code, answer.text)
        message: str = answer.json()["error"]["message"]
        return message
