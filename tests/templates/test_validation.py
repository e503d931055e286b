"""Content validation rules, on in-memory trees and on the corpus."""

from __future__ import annotations

import time

import pygit2
import pytest

from heater.templates.validation import (
    Changes,
    GitTreeSource,
    MappingSource,
    ValidationFailed,
    changes_between,
    check,
    findings,
    validate,
)
from tests.conftest import CORPUS, HELLO_WORLD
from tests.push.test_hook import BOMB

NESTED = """heat_template_version: 2018-08-31
resources:
  server:
    type: lib/server.yaml
  config:
    type: OS::Heat::SoftwareConfig
    properties:
      config: {get_file: files/init.sh}
  remote:
    type: "https://example.com/nested.yaml"
"""


def problems(files: dict[str, str], changes: Changes | None = None) -> list[str]:
    source = MappingSource({k: v.encode() for k, v in files.items()})
    found = validate(source, changes) if changes is not None else validate(source)
    return [str(p) for p in found]


def test_the_whole_corpus_is_accepted() -> None:
    hot = CORPUS / "heat-templates" / "hot"
    files = {str(p.relative_to(hot)): p.read_bytes() for p in hot.rglob("*") if p.is_file()}
    files["heater.yaml"] = b"entrypoint: hello_world.yaml\n"
    assert validate(MappingSource(files)) == []


def test_every_historic_version_is_accepted_but_those_heat_refuses() -> None:
    history = CORPUS / "heat-templates-history"
    versions = sorted(history.glob("*/*.yaml"))
    assert len(versions) > 20
    # The autoscaling template's group nests lb_server.yaml: it goes beside it.
    beside = {"lb_server.yaml": (CORPUS / "heat-templates" / "hot" / "lb_server.yaml").read_bytes()}
    refused = {}
    for path in versions:
        files = {"template.yaml": path.read_bytes(), **beside}
        found = [str(p) for p in validate(MappingSource(files))]
        if found:
            refused[path.name] = found
    # Three upstream versions of 2017 read an attribute of a resource that is
    # not there (fixed upstream in the next one); Heat refuses them too.
    broken = ["template.yaml:131: get_attr: 'scaleup_policy' is not a resource of this "
              "template (did you mean 'web_server_scaleup_policy'?) [undefined-resource]",
              "template.yaml:151: get_attr: 'scaleup_policy' is not a resource of this "
              "template (did you mean 'web_server_scaleup_policy'?) [undefined-resource]"]
    assert refused == {"08-2017-05-18-de99077.yaml": broken,
                       "09-2017-06-06-9ac17bf.yaml": broken,
                       "10-2017-07-10-c03afdf.yaml": broken}


def test_references_must_exist() -> None:
    assert problems({"template.yaml": NESTED}) == [
        "template.yaml:4: nested template 'lib/server.yaml' does not exist "
        "(no file lib/server.yaml in this tree)",
        "template.yaml:8: get_file target 'files/init.sh' does not exist "
        "(no file files/init.sh in this tree)",
    ]
    assert problems({"template.yaml": NESTED, "files/init.sh": "echo",
                     "lib/server.yaml": HELLO_WORLD}) == []


def test_references_may_not_leave_the_repository() -> None:
    template = HELLO_WORLD + "  x:\n    value: {get_file: ../../etc/passwd}\n"
    assert problems({"template.yaml": template}) == [
        "template.yaml:17: get_file target '../../etc/passwd' is outside the repository"]


@pytest.mark.parametrize("target", [
    "file:///etc/passwd", "file:/etc/passwd", "http://169.254.169.254/latest/meta-data/",
    "https://example.com/x.sh", "HTTP://[fe80::1]/x"])
def test_get_file_may_not_name_a_url(target: str) -> None:
    """python-heatclient reads a get_file URL on the machine of whoever deploys."""
    template = HELLO_WORLD + f"  x:\n    value: {{get_file: '{target}'}}\n"
    assert problems({"template.yaml": template}) == [
        f"template.yaml:17: get_file target {target!r} is a URL; get_file may only name a "
        "file of this repository, by a relative path"]


@pytest.mark.parametrize(("target", "refused"), [
    ("file:///etc/passwd.yaml", True), ("ftp://example.com/x.yaml", True),
    ("https://example.com/lib/server.yaml", False), ("HTTP://example.com/x.yaml", False)])
def test_nested_template_urls_must_be_http(target: str, refused: bool) -> None:
    """heatclient fetches a nested template URL on the deploying machine too."""
    template = HELLO_WORLD.replace("type: OS::Nova::Server", f"type: '{target}'")
    env = f"resource_registry:\n  My::Thing: '{target}'\n"
    expected = [f"template.yaml:9: nested template {target!r} is a URL that is not http(s); "
                "name a file of this repository by a relative path, or an http(s) URL",
                f"env.yaml:2: resource_registry file {target!r} is a URL that is not "
                "http(s); name a file of this repository by a relative path, or an http(s) "
                "URL"]
    found = [p for p in problems({"template.yaml": template, "env.yaml": env})
             if "not http(s)" in p]
    assert sorted(found) == (sorted(expected) if refused else [])


def test_environment_registry_targets_are_checked() -> None:
    env = "resource_registry:\n  My::Server: lib/missing.yaml\n"
    assert problems({"template.yaml": HELLO_WORLD, "env.yaml": env}) == [
        "env.yaml:2: resource_registry file 'lib/missing.yaml' does not exist "
        "(no file lib/missing.yaml in this tree)"]


@pytest.mark.parametrize(("registry", "expected"), [
    # An http(s) base: heatclient fetches the files from there, as it does
    # a mapping written as a URL (none of them is in the repository).
    ("  base_url: https://example.com/lib\n  My::A: a.yaml\n", []),
    ("  resources:\n    web:\n      base_url: http://example.com/\n      My::A: a.yaml\n",
     []),
    # Another scheme opens a file on the deploying machine: refused, though
    # a file of that name is in the repository beside the environment.
    ("  base_url: file:///etc/\n  My::A: passwd.yaml\n",
     ["env/prod.yaml:3: resource_registry file 'file:///etc/passwd.yaml' is a URL that is "
      "not http(s); name a file of this repository by a relative path, or an http(s) URL"]),
    # A resource's own base_url goes before the registry's.
    ("  base_url: https://example.com/\n  resources:\n    web:\n"
     "      base_url: ftp://example.com/lib/\n      My::A: a.yaml\n",
     ["env/prod.yaml:6: resource_registry file 'ftp://example.com/lib/a.yaml' is a URL that "
      "is not http(s); name a file of this repository by a relative path, or an http(s) URL"]),
    # A base that is no URL: heatclient joins to it and opens nothing.
    ("  base_url: ../lib\n  My::A: a.yaml\n",
     ["env/prod.yaml:3: resource_registry file 'a.yaml' is joined to base_url '../lib', "
      "which is not a URL, and heatclient cannot open the result; remove base_url to name "
      "files relative to this environment, or make it an http(s) URL"]),
])
def test_environment_registry_files_follow_base_url_as_heatclient_does(
        registry: str, expected: list[str]) -> None:
    files = {"template.yaml": HELLO_WORLD, "lib/a.yaml": HELLO_WORLD,
             "env/passwd.yaml": HELLO_WORLD,
             "env/prod.yaml": "resource_registry:\n" + registry}
    assert problems(files) == expected


@pytest.mark.parametrize(("template", "expected"), [
    ("heat_template_version: 2012-12-12\nresources: {}\n",
     "template.yaml:1: unknown heat_template_version '2012-12-12'"),
    ("heat_template_version: 2018-08-31\ndescription: nothing\n",
     "template.yaml:1: a template needs a resources or an outputs section"),
    ("heat_template_version: 2018-08-31\nresources: [a, b]\n",
     "template.yaml:2: resources must be a mapping of names to definitions"),
    ("heat_template_version: 2018-08-31\nresources:\n  a: {properties: {}}\n",
     "template.yaml:3: resource a needs a type"),
    ("heat_template_version: 2018-08-31\noutputs:\n  a: 1\n",
     "template.yaml:3: outputs.a must be a mapping"),
    ("description: no version\n",
     "template.yaml:1: the entry point is not a Heat template"),
    ("a: b: c\n", "template.yaml:1: invalid YAML: mapping values are not allowed"),
])
def test_template_rules(template: str, expected: str) -> None:
    found = problems({"template.yaml": template})
    assert found and found[0].startswith(expected), found


def test_a_yaml_bomb_is_refused_quickly() -> None:
    started = time.monotonic()
    found = problems({"template.yaml": HELLO_WORLD, "bomb.yaml": BOMB})
    assert time.monotonic() - started < 2
    assert len(found) == 1 and "refusing a possible YAML bomb" in found[0]


def test_size_limit() -> None:
    huge = HELLO_WORLD + "#" * (512 * 1024)
    assert problems({"template.yaml": huge})[0].startswith("template.yaml: larger than 512 KiB")


def test_entrypoint_from_metadata() -> None:
    assert problems({"stack.yaml": HELLO_WORLD, "heater.yaml": "entrypoint: stack.yaml\n"}) == []
    assert problems({"heater.yaml": "entrypoint: ../x.yaml\n"}) == [
        "heater.yaml:1: entrypoint '../x.yaml' has an empty, '.' or '..' component"]
    assert problems({"README.md": "hi"})[0].startswith("template.yaml: the entry point is missing")


def test_only_changed_files_are_checked_unless_something_was_deleted() -> None:
    broken = {"template.yaml": HELLO_WORLD, "old.yaml": "a: [\n", "new.yaml": NESTED}
    assert problems(broken, Changes(frozenset({"template.yaml"}))) == []
    assert len(problems(broken, Changes(frozenset(), deleted=True))) == 3  # old.yaml, 2 refs


def test_changes_between_git_trees(tmp_path: pytest.TempPathFactory) -> None:
    git = pygit2.init_repository(str(tmp_path), bare=True)

    def tree(files: dict[str, bytes]) -> pygit2.Tree:
        builder = git.TreeBuilder()
        for name, data in files.items():
            builder.insert(name, git.create_blob(data), pygit2.enums.FileMode.BLOB)
        result = git.get(builder.write())
        assert isinstance(result, pygit2.Tree)
        return result

    old = tree({"template.yaml": HELLO_WORLD.encode(), "a.yaml": b"a: 1\n"})
    new = tree({"template.yaml": HELLO_WORLD.encode(), "b.yaml": b"b: [\n"})
    changes = changes_between(git, old, new)
    assert changes == Changes(frozenset({"b.yaml"}), deleted=True)
    with pytest.raises(ValidationFailed) as caught:
        check(GitTreeSource(new), changes)
    assert caught.value.message.startswith("b.yaml:2: invalid YAML")


GROUPS = """heat_template_version: 2018-08-31
resources:
  asg:
    type: OS::Heat::AutoScalingGroup
    properties:
      min_size: 1
      max_size: 3
      resource:
        type: nested/lb-server.yaml
  group:
    type: OS::Heat::ResourceGroup
    properties:
      resource_def:
        type: nested/member.template
"""


def test_nested_templates_of_groups_must_exist() -> None:
    assert problems({"template.yaml": GROUPS}) == [
        "template.yaml:9: nested template 'nested/lb-server.yaml' does not exist "
        "(no file nested/lb-server.yaml in this tree)",
        "template.yaml:14: nested template 'nested/member.template' does not exist "
        "(no file nested/member.template in this tree)",
    ]
    assert problems({"template.yaml": GROUPS, "nested/lb-server.yaml": HELLO_WORLD,
                     "nested/member.template": HELLO_WORLD}) == []


@pytest.mark.parametrize(("settings", "expected"), [
    ("versioning: {enforce: \"true\"}\n",
     "heater.yaml:1: versioning must be a mapping {enforce: true|false}"),
    ("keywords:\n  - web\n  - {a: b}\n", "heater.yaml:3: keywords must be a list of strings"),
    ("description: x\nentrypiont: stack.yaml\n",
     "heater.yaml:2: unknown setting 'entrypiont' (did you mean 'entrypoint'?)"),
    ("colour: red\n", "heater.yaml:1: unknown setting 'colour'; known settings: description"),
    ("keywords: web\n", "heater.yaml:1: keywords must be a list of strings"),
    ("metadata: [a]\n", "heater.yaml:1: metadata must be a mapping"),
    ("maintainers:\n  - {name: a, phone: 1}\n", "heater.yaml:2: maintainers must be a list"),
    ("versioning:\n  enforce: true\n  strict: true\n", "heater.yaml:3: versioning must be"),
    ("[a, b]\n", "heater.yaml:1: heater.yaml must be a mapping of settings"),
    *[(f"icon: '{icon}'\n", "heater.yaml:1: icon must be an http: or https: URL, or a path "
       "inside the repository") for icon in (
        "javascript:alert(1)", "JavaScript:alert(1)", "java\tscript:alert(1)",
        "data:image/svg+xml;base64,PHN2Zz4=", "file:///etc/passwd", "//evil.example/i.png",
        "../../i.png", "/etc/i.png", "vbscript:x")],
])
def test_settings_are_checked(settings: str, expected: str) -> None:
    found = problems({"template.yaml": HELLO_WORLD, "heater.yaml": settings})
    assert found and found[0].startswith(expected), found


def test_good_settings_and_unchanged_settings_pass() -> None:
    good = ("description: d\nkeywords: [a]\nmetadata: {k: 1}\nicon: https://x/i.png\n"
            "maintainers: [alice, {name: bob, email: b@x}]\nentrypoint: template.yaml\n"
            "versioning: {enforce: true}\n")
    assert problems({"template.yaml": HELLO_WORLD, "heater.yaml": good}) == []
    assert problems({"template.yaml": HELLO_WORLD, "icons/logo.png": "x",
                     "heater.yaml": "icon: icons/logo.png\n"}) == []
    assert problems({"template.yaml": HELLO_WORLD, "heater.yaml": ""}) == []
    # Repositories from before the rule may push other changes.
    old = {"template.yaml": HELLO_WORLD, "heater.yaml": "colour: red\n"}
    assert problems(old, Changes(frozenset({"template.yaml"}))) == []


def test_an_environment_with_a_misspelled_section_is_refused() -> None:
    template = HELLO_WORLD.replace("OS::Nova::Server", "My::Server")
    env = "paramters:\n  image: cirros\nresource_registry:\n  My::Server: OS::Nova::Server\n"
    assert problems({"template.yaml": template, "env/prod.yaml": env}) == [
        "env/prod.yaml:1: unknown section 'paramters' for an environment (did you mean "
        "'parameters'?) [unknown-section]"]
    # YAML with a key near no section is no environment: left alone; so is
    # what a template reads with get_file (data for a resource).
    assert problems({"template.yaml": HELLO_WORLD,
                     "vars.yaml": "name: web\nparamters: {a: 1}\n"}) == []
    reads = HELLO_WORLD.replace("flavor: m1.small", "flavor: m1.small\n"
                                "      metadata: {get_file: data/params.yaml}")
    assert problems({"template.yaml": reads, "data/params.yaml": "params: {a: 1}\n"}) == []
    assert problems({"template.yaml": HELLO_WORLD, "data/params.yaml": "params: {a: 1}\n"}) \
        == ["data/params.yaml:1: unknown section 'params' for an environment (did you mean "
            "'parameters'?) [unknown-section]"]
    lowered = {"template.yaml": HELLO_WORLD, "env/prod.yaml": "parameter_default: {}\n",
               "heater.yaml": "validation:\n  warn: [unknown-section]\n"}
    assert [str(p) for p in findings(MappingSource(
        {k: v.encode() for k, v in lowered.items()}))] == [
        "env/prod.yaml:1: warning: unknown section 'parameter_default' for an environment "
        "(did you mean 'parameter_defaults'?) [unknown-section]"]
