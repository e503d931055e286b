"""The OpenStack fixture itself: each service answers a user of a new
project, and identities made by the helpers work as Keystone's own."""

from __future__ import annotations

import requests

from tests.services.openstack import Cloud

RANDOM = """heat_template_version: 2018-08-31
resources:
  word:
    type: OS::Heat::RandomString
    properties: {length: 12}
outputs:
  word:
    value: {get_attr: [word, value]}
"""


def test_a_new_user_creates_a_stack_with_the_command_line(cloud: Cloud) -> None:
    user = cloud.make_user()
    template = cloud.root / "random.yaml"
    template.write_text(RANDOM)
    created = cloud.openstack_json("stack", "create", "--wait", "-t", str(template), "smoke",
                                   user=user)
    assert created["stack_status"] == "CREATE_COMPLETE"
    shown = cloud.openstack_json("stack", "output", "show", "smoke", "word", user=user)
    assert len(shown["output_value"]) == 12


def test_an_application_credential_gets_a_token_glance_accepts(cloud: Cloud) -> None:
    user = cloud.make_user(("reader",))
    credential = cloud.app_credential(user)
    token = cloud.keystone.token_for({"auth": {"identity": {
        "methods": ["application_credential"],
        "application_credential": {"id": credential.id, "secret": credential.secret}}}})
    images = requests.get(f"{cloud.glance_url}/v2/images", timeout=30,
                          headers={"X-Auth-Token": token})
    assert images.status_code == 200, images.text
    assert images.json()["images"] == []


def test_a_project_sees_none_of_another_projects_stacks(cloud: Cloud) -> None:
    one, other = cloud.make_user(), cloud.make_user()
    token = cloud.keystone.token(other)
    stacks = requests.get(f"{cloud.heat_endpoint(one)}/stacks", timeout=30,
                          headers={"X-Auth-Token": token})
    assert stacks.status_code == 403, stacks.text
