"""Templates that Heat accepts or refuses, for comparing Heater's verdict
with Heat's (``tests/templates/test_heat_agrees.py``).

Each case is one template of one fault (or none): unknown types and
properties, missing required properties, undefined parameters, resources
and conditions, broken intrinsic functions, wrong section and key names,
broken parameter definitions; and templates that use what Heat allows
that a stricter checker could wrongly refuse. Every resource type here needs
no other service, so Heat's ``stack create --dry-run`` (a stack preview)
judges the template alone.
"""

from __future__ import annotations

HEAD = "heat_template_version: 2018-08-31\n"

# name -> the template (YAML text)
CASES: dict[str, str] = {
    # ---- what Heat accepts
    "valid: values, random strings, outputs": HEAD + """
parameters:
  size: {type: number, default: 8, constraints: [{range: {min: 1, max: 64}}]}
  names: {type: comma_delimited_list, default: "a,b"}
  settings: {type: json, default: {colour: blue}}
resources:
  word:
    type: OS::Heat::RandomString
    properties:
      length: {get_param: size}
      character_classes: [{class: lowercase, min: 2}]
  value:
    type: OS::Heat::Value
    properties:
      type: json
      value: {get_param: settings}
    depends_on: [word]
outputs:
  word: {value: {get_attr: [word, value]}}
  colour: {value: {get_param: [settings, colour]}}
  first: {value: {get_param: [names, 0]}}
""",
    "valid: functions of 2018-08-31": HEAD + """
parameters:
  env: {type: string, default: prod}
conditions:
  is_prod: {equals: [{get_param: env}, prod]}
  not_prod: {not: is_prod}
resources:
  joined:
    type: OS::Heat::Value
    properties:
      value:
        str_replace:
          template: $a-$b
          params: {$a: {get_param: OS::stack_name}, $b: {list_join: [",", [x, y]]}}
  lists:
    type: OS::Heat::Value
    properties:
      type: comma_delimited_list
      value: {list_concat: [[a], {str_split: [",", "b,c"]}, {repeat: {for_each: {<%x%>: [d]},
                                                                        template: <%x%>}}]}
  maps:
    type: OS::Heat::Value
    condition: is_prod
    properties:
      type: json
      value: {map_merge: [{a: 1}, {map_replace: [{b: 2}, {keys: {b: c}}]}]}
  nothing:
    type: OS::Heat::None
    condition: not_prod
outputs:
  digest: {value: {digest: [sha256, {get_attr: [joined, value]}]}}
  chosen: {value: {if: [is_prod, yes, no]}}
  url: {value: {make_url: {scheme: https, host: example.com, path: /x}}}
  has: {value: {contains: [a, {get_attr: [lists, value]}]}}
  filtered: {value: {filter: [[a], {get_attr: [lists, value]}]}}
  shown: {value: {get_attr: [joined, show]}}
  id: {value: {get_resource: joined}}
""",
    "valid: groups, configs and policies": HEAD + """
resources:
  group:
    type: OS::Heat::ResourceGroup
    properties:
      count: 2
      resource_def:
        type: OS::Heat::RandomString
        properties: {length: 4}
    update_policy:
      batch_create: {max_batch_size: 1}
  config:
    type: OS::Heat::SoftwareConfig
    deletion_policy: Retain
    properties:
      group: script
      config: "#!/bin/sh\\necho hi\\n"
      inputs: [{name: who, default: world}]
  cloud_config:
    type: OS::Heat::CloudConfig
    properties:
      cloud_config: {runcmd: [[echo, hi]]}
  parts:
    type: OS::Heat::MultipartMime
    properties:
      parts: [{config: {get_resource: cloud_config}}]
outputs:
  first: {value: {get_attr: [group, resource.0.value]}}
  all: {value: {get_attr: [group, value]}}
  config: {value: {get_attr: [config, config]}}
""",
    "valid: parameter groups, hidden and labelled parameters": HEAD + """
parameter_groups:
  - label: secrets
    parameters: [password]
parameters:
  password: {type: string, hidden: true, default: s3cret, label: Password,
             constraints: [{length: {min: 4}}, {allowed_pattern: "[a-z0-9]+"}]}
  flavour: {type: string, default: small, constraints: [{allowed_values: [small, large]}]}
  ratio: {type: number, default: 0.5}
  enabled: {type: boolean, default: true}
resources:
  note:
    type: OS::Heat::Value
    properties:
      value: {get_param: password}
""",
    "valid: outputs only": HEAD + """
outputs:
  answer: {value: 42}
""",
    # ---- sections and keys
    "unknown version": """heat_template_version: 2099-01-01
resources: {}
""",
    "misspelt section 'resource'": HEAD + """
resource:
  word: {type: OS::Heat::RandomString}
""",
    "misspelt section 'output'": HEAD + """
resources:
  word: {type: OS::Heat::RandomString}
output:
  word: {value: {get_attr: [word, value]}}
""",
    "misspelt resource key 'propertys'": HEAD + """
resources:
  word:
    type: OS::Heat::RandomString
    propertys: {length: 4}
""",
    "misspelt output key 'valu'": HEAD + """
resources:
  word: {type: OS::Heat::RandomString}
outputs:
  word: {valu: {get_attr: [word, value]}}
""",
    "resource without a type": HEAD + """
resources:
  word:
    properties: {length: 4}
""",
    "bad deletion_policy": HEAD + """
resources:
  word:
    type: OS::Heat::RandomString
    deletion_policy: Keep
""",
    # ---- parameters
    "unknown parameter type": HEAD + """
parameters:
  size: {type: integer, default: 8}
resources:
  word: {type: OS::Heat::RandomString}
""",
    "misspelt parameter key 'defualt'": HEAD + """
parameters:
  size: {type: number, defualt: 8}
resources:
  word: {type: OS::Heat::RandomString}
""",
    "default outside its constraint": HEAD + """
parameters:
  size: {type: number, default: 100, constraints: [{range: {max: 64}}]}
resources:
  word: {type: OS::Heat::RandomString}
""",
    "default not in allowed_values": HEAD + """
parameters:
  flavour: {type: string, default: huge, constraints: [{allowed_values: [small, large]}]}
resources:
  word: {type: OS::Heat::RandomString}
""",
    "parameter group naming an unknown parameter": HEAD + """
parameter_groups:
  - parameters: [nope]
resources:
  word: {type: OS::Heat::RandomString}
""",
    # ---- references
    "undefined parameter": HEAD + """
resources:
  note:
    type: OS::Heat::Value
    properties:
      value: {get_param: nope}
""",
    "undefined resource in get_resource": HEAD + """
resources:
  note:
    type: OS::Heat::Value
    properties:
      value: {get_resource: nope}
""",
    "undefined resource in get_attr": HEAD + """
outputs:
  out: {value: {get_attr: [nope, value]}}
""",
    "undefined resource in depends_on": HEAD + """
resources:
  word:
    type: OS::Heat::RandomString
    depends_on: [nope]
""",
    "undefined condition": HEAD + """
resources:
  word:
    type: OS::Heat::RandomString
    condition: nope
""",
    "unknown attribute": HEAD + """
resources:
  word: {type: OS::Heat::RandomString}
outputs:
  out: {value: {get_attr: [word, nope]}}
""",
    # ---- functions
    "function of a later version": """heat_template_version: 2016-10-14
resources:
  note:
    type: OS::Heat::Value
    properties:
      value: {list_concat: [[a], [b]]}
""",
    "cfn function in HOT": HEAD + """
resources:
  word: {type: OS::Heat::RandomString}
outputs:
  out: {value: {"Fn::GetAtt": [word, value]}}
""",
    "get_attr with one argument": HEAD + """
resources:
  word: {type: OS::Heat::RandomString}
outputs:
  out: {value: {get_attr: word}}
""",
    "str_replace without params": HEAD + """
resources:
  note:
    type: OS::Heat::Value
    properties:
      value: {str_replace: {template: $x}}
""",
    "list_join of a string": HEAD + """
resources:
  note:
    type: OS::Heat::Value
    properties:
      value: {list_join: [",", "a"]}
""",
    "equals with one argument": HEAD + """
conditions:
  c: {equals: [a]}
resources:
  word: {type: OS::Heat::RandomString, condition: c}
""",
    # ---- types and properties
    "unknown resource type": HEAD + """
resources:
  thing: {type: OS::Heat::Nope}
""",
    "unknown property": HEAD + """
resources:
  word:
    type: OS::Heat::RandomString
    properties: {lenght: 4}
""",
    "missing required property": HEAD + """
resources:
  note:
    type: OS::Heat::Value
""",
    "property of the wrong type": HEAD + """
resources:
  word:
    type: OS::Heat::RandomString
    properties: {length: many}
""",
    "property outside its constraint": HEAD + """
resources:
  note:
    type: OS::Heat::Value
    properties: {value: x, type: decimal}
""",
    "nested template Heat cannot read": HEAD + """
resources:
  nested: {type: missing/nested.yaml}
""",
}
