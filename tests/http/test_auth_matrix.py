"""Who may do what: every endpoint and every git service, against public and
private repositories of both kinds, as seen by every kind of caller.

The expected status of each cell is the table below. Beyond the status,
private content (names, file contents, manifests, object ids, build ids)
must appear in no response to a caller who may not read it, and a private
repository must answer such a caller exactly as a repository that does not
exist, so that not even its existence shows.

The endpoint list is derived from the application (Flask's url_map and the
smart HTTP route table) and from the OpenAPI document: a new endpoint fails
:func:`test_every_endpoint_is_in_the_matrix` until it has its rows here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from heater.http.app import create_app
from heater.http.git.smarthttp import ROUTES, SERVICES
from tests.access_world import PRINCIPALS, READERS, REPOS, World, world_for
from tests.conftest import Git, Server
from tests.images_helpers import UBUNTU_MANIFEST, push, queue_build
from tests.services.debian import ensure_packages

# Columns: anonymous, an invalid token, then reader/writer/admin tokens of
# the repositories' namespace (R W A), of another namespace (R' W' A') and
# without a namespace (R* W* A*). Rows: an endpoint (Flask's rule syntax; git
# services by URL) against pt/st (public/private template), pi/si
# (public/private image, each with an uploaded build) or none (a name that
# does not exist); "-" for endpoints about no repository. In endpoints, T is
# /api/v1/templates/<namespace>/<name>, I /api/v1/images/<namespace>/<name>,
# B /api/v1/builds/<build_id>, G /<ns>/<name>.git and RAW
# /<namespace>/<name>/raw/<ref>/<path:path>, SIGNED the same through a signed
# URL (credentials are not looked at: the URL is the credential; every row
# but pt's sends the public template's signature, which opens nothing
# else, so a private template is as missing as a missing one), and W
# /<repo:namespace>/<repo:name> (the web UI's pages of a repository). An
# endpoint with a "#" is one
# of the rows below with a hostile argument (VARIANTS says which).
#
# Reading rules: a private repository answers 404 to those who may not read
# it, exactly as "none" does; a token that is not valid is 401 everywhere it
# is looked at; writing needs writer (deleting: admin) on the namespace, 401
# without a token and 403 with one, except over git, where a refused push is
# 401 so that git asks for other credentials (403 only when no credentials
# could help: images are written by builds, not by push).
EXPECTED = """
method endpoint                                  repo anon bad R   W   A   R'  W'  A'  R*  W*  A*
GET    /healthz                                  -    200 200 200 200 200 200 200 200 200 200 200
GET    /metrics                                  -    200 200 200 200 200 200 200 200 200 200 200
GET    /api/v1/openapi.json                      -    200 200 200 200 200 200 200 200 200 200 200
GET    /api/v1/templates                         pt   200 401 200 200 200 200 200 200 200 200 200
GET    /api/v1/templates                         st   200 401 200 200 200 200 200 200 200 200 200
GET    /api/v1/images                            pi   200 401 200 200 200 200 200 200 200 200 200
GET    /api/v1/images                            si   200 401 200 200 200 200 200 200 200 200 200
POST   /api/v1/templates                         none 401 401 403 201 201 403 403 403 403 201 201
POST   /api/v1/templates                         pt   401 401 403 409 409 403 403 403 403 409 409
POST   /api/v1/templates                         st   401 401 403 409 409 403 403 403 403 409 409
POST   /api/v1/templates                         pi   401 401 403 409 409 403 403 403 403 409 409
POST   /api/v1/templates                         si   401 401 403 409 409 403 403 403 403 409 409
GET    T                                         pt   200 401 200 200 200 200 200 200 200 200 200
GET    T                                         st   404 401 200 200 200 404 404 404 200 200 200
GET    T                                         pi   404 401 404 404 404 404 404 404 404 404 404
GET    T                                         si   404 401 404 404 404 404 404 404 404 404 404
GET    T                                         none 404 401 404 404 404 404 404 404 404 404 404
GET    T/versions                                pt   200 401 200 200 200 200 200 200 200 200 200
GET    T/versions                                st   404 401 200 200 200 404 404 404 200 200 200
GET    T/versions                                pi   404 401 404 404 404 404 404 404 404 404 404
GET    T/versions                                none 404 401 404 404 404 404 404 404 404 404 404
GET    T/versions/<version>                      pt   200 401 200 200 200 200 200 200 200 200 200
GET    T/versions/<version>                      st   404 401 200 200 200 404 404 404 200 200 200
GET    T/versions/<version>                      pi   404 401 404 404 404 404 404 404 404 404 404
GET    T/versions/<version>                      none 404 401 404 404 404 404 404 404 404 404 404
GET    T/commits                                 pt   200 401 200 200 200 200 200 200 200 200 200
GET    T/commits                                 st   404 401 200 200 200 404 404 404 200 200 200
GET    T/commits                                 pi   404 401 404 404 404 404 404 404 404 404 404
GET    T/commits                                 none 404 401 404 404 404 404 404 404 404 404 404
GET    T/bundle                                  pt   200 401 200 200 200 200 200 200 200 200 200
GET    T/bundle                                  st   404 401 200 200 200 404 404 404 200 200 200
GET    T/bundle                                  pi   404 401 404 404 404 404 404 404 404 404 404
GET    T/bundle                                  none 404 401 404 404 404 404 404 404 404 404 404
GET    T/diff                                    pt   200 401 200 200 200 200 200 200 200 200 200
GET    T/diff                                    st   404 401 200 200 200 404 404 404 200 200 200
GET    T/diff                                    pi   404 401 404 404 404 404 404 404 404 404 404
GET    T/diff                                    none 404 401 404 404 404 404 404 404 404 404 404
GET    T/schema                                  pt   200 401 200 200 200 200 200 200 200 200 200
GET    T/schema                                  st   404 401 200 200 200 404 404 404 200 200 200
GET    T/schema                                  pi   404 401 404 404 404 404 404 404 404 404 404
GET    T/schema                                  none 404 401 404 404 404 404 404 404 404 404 404
POST   T/validate                                pt   200 401 200 200 200 200 200 200 200 200 200
POST   T/validate                                st   404 401 200 200 200 404 404 404 200 200 200
POST   T/validate                                pi   404 401 404 404 404 404 404 404 404 404 404
POST   T/validate                                none 404 401 404 404 404 404 404 404 404 404 404
GET    T/lifecycle                               pt   200 401 200 200 200 200 200 200 200 200 200
GET    T/lifecycle                               st   404 401 200 200 200 404 404 404 200 200 200
GET    T/lifecycle                               pi   404 401 404 404 404 404 404 404 404 404 404
GET    T/lifecycle                               none 404 401 404 404 404 404 404 404 404 404 404
POST   T/versions                                pt   401 401 403 201 201 403 403 403 403 201 201
POST   T/versions                                st   404 401 403 201 201 404 404 404 403 201 201
POST   T/versions                                pi   404 401 404 404 404 404 404 404 404 404 404
POST   T/versions                                none 404 401 404 404 404 404 404 404 404 404 404
POST   T/versions/<version>/yank                 pt   401 401 403 200 200 403 403 403 403 200 200
POST   T/versions/<version>/yank                 st   404 401 403 200 200 404 404 404 403 200 200
POST   T/versions/<version>/yank                 none 404 401 404 404 404 404 404 404 404 404 404
DELETE T/versions/<version>/yank                 pt   401 401 403 200 200 403 403 403 403 200 200
DELETE T/versions/<version>/yank                 st   404 401 403 200 200 404 404 404 403 200 200
DELETE T/versions/<version>/yank                 none 404 401 404 404 404 404 404 404 404 404 404
PUT    T/deprecation                             pt   401 401 403 200 200 403 403 403 403 200 200
PUT    T/deprecation                             st   404 401 403 200 200 404 404 404 403 200 200
PUT    T/deprecation                             pi   404 401 404 404 404 404 404 404 404 404 404
PUT    T/deprecation                             none 404 401 404 404 404 404 404 404 404 404 404
DELETE T/deprecation                             pt   401 401 403 200 200 403 403 403 403 200 200
DELETE T/deprecation                             st   404 401 403 200 200 404 404 404 403 200 200
DELETE T/deprecation                             none 404 401 404 404 404 404 404 404 404 404 404
DELETE T                                         pt   401 401 403 403 200 403 403 403 403 403 200
DELETE T                                         st   404 401 403 403 200 404 404 404 403 403 200
DELETE T                                         pi   404 401 404 404 404 404 404 404 404 404 404
DELETE T                                         none 404 401 404 404 404 404 404 404 404 404 404
POST   T/undelete                                pt   401 401 403 403 200 403 403 403 403 403 200
POST   T/undelete                                st   404 401 403 403 200 404 404 404 403 403 200
POST   T/undelete                                none 404 401 404 404 404 404 404 404 404 404 404
GET    I                                         pi   200 401 200 200 200 200 200 200 200 200 200
GET    I                                         si   404 401 200 200 200 404 404 404 200 200 200
GET    I                                         pt   404 401 404 404 404 404 404 404 404 404 404
GET    I                                         st   404 401 404 404 404 404 404 404 404 404 404
GET    I                                         none 404 401 404 404 404 404 404 404 404 404 404
GET    I/versions                                pi   200 401 200 200 200 200 200 200 200 200 200
GET    I/versions                                si   404 401 200 200 200 404 404 404 200 200 200
GET    I/versions                                pt   404 401 404 404 404 404 404 404 404 404 404
GET    I/versions                                none 404 401 404 404 404 404 404 404 404 404 404
GET    I/diff                                    pi   200 401 200 200 200 200 200 200 200 200 200
GET    I/diff                                    si   404 401 200 200 200 404 404 404 200 200 200
GET    I/diff                                    pt   404 401 404 404 404 404 404 404 404 404 404
GET    I/diff                                    none 404 401 404 404 404 404 404 404 404 404 404
POST   I/builds                                  pi   401 401 403 201 201 403 403 403 403 201 201
POST   I/builds                                  si   401 401 403 201 201 403 403 403 403 201 201
POST   I/builds                                  pt   401 401 403 404 404 403 403 403 403 404 404
POST   I/builds                                  st   401 401 403 404 404 403 403 403 403 404 404
POST   I/builds                                  none 401 401 403 201 201 403 403 403 403 201 201
GET    B                                         pi   200 401 200 200 200 200 200 200 200 200 200
GET    B                                         si   404 401 200 200 200 404 404 404 200 200 200
GET    B                                         none 404 401 404 404 404 404 404 404 404 404 404
GET    B/file                                    pi   200 401 200 200 200 200 200 200 200 200 200
GET    B/file                                    si   404 401 200 200 200 404 404 404 200 200 200
GET    B/file                                    none 404 401 404 404 404 404 404 404 404 404 404
PUT    B/file                                    pi   401 401 403 200 200 403 403 403 403 200 200
PUT    B/file                                    si   404 401 403 200 200 404 404 404 403 200 200
PUT    B/file                                    none 404 401 404 404 404 404 404 404 404 404 404
DELETE B                                         pi   401 401 403 200 200 403 403 403 403 200 200
DELETE B                                         si   404 401 403 200 200 404 404 404 403 200 200
DELETE B                                         none 404 401 404 404 404 404 404 404 404 404 404
PATCH  T                                         pt   401 401 403 200 200 403 403 403 403 200 200
PATCH  T                                         st   404 401 403 200 200 404 404 404 403 200 200
PATCH  T                                         pi   404 401 404 404 404 404 404 404 404 404 404
PATCH  T                                         none 404 401 404 404 404 404 404 404 404 404 404
PATCH  I                                         pi   401 401 403 200 200 403 403 403 403 200 200
PATCH  I                                         si   404 401 403 200 200 404 404 404 403 200 200
PATCH  I                                         pt   404 401 404 404 404 404 404 404 404 404 404
PATCH  I                                         none 404 401 404 404 404 404 404 404 404 404 404
GET    I/versions/<version>                      pi   200 401 200 200 200 200 200 200 200 200 200
GET    I/versions/<version>                      si   404 401 200 200 200 404 404 404 200 200 200
GET    I/versions/<version>                      pt   404 401 404 404 404 404 404 404 404 404 404
GET    I/versions/<version>                      none 404 401 404 404 404 404 404 404 404 404 404
GET    I/builds                                  pi   200 401 200 200 200 200 200 200 200 200 200
GET    I/builds                                  si   404 401 200 200 200 404 404 404 200 200 200
GET    I/builds                                  pt   404 401 404 404 404 404 404 404 404 404 404
GET    I/builds                                  none 404 401 404 404 404 404 404 404 404 404 404
GET    I/lifecycle                               pi   200 401 200 200 200 200 200 200 200 200 200
GET    I/lifecycle                               si   404 401 200 200 200 404 404 404 200 200 200
GET    I/lifecycle                               pt   404 401 404 404 404 404 404 404 404 404 404
GET    I/lifecycle                               none 404 401 404 404 404 404 404 404 404 404 404
POST   I/versions/<version>/yank                 pi   401 401 403 200 200 403 403 403 403 200 200
POST   I/versions/<version>/yank                 si   404 401 403 200 200 404 404 404 403 200 200
POST   I/versions/<version>/yank                 none 404 401 404 404 404 404 404 404 404 404 404
DELETE I/versions/<version>/yank                 pi   401 401 403 200 200 403 403 403 403 200 200
DELETE I/versions/<version>/yank                 si   404 401 403 200 200 404 404 404 403 200 200
DELETE I/versions/<version>/yank                 none 404 401 404 404 404 404 404 404 404 404 404
PUT    I/deprecation                             pi   401 401 403 200 200 403 403 403 403 200 200
PUT    I/deprecation                             si   404 401 403 200 200 404 404 404 403 200 200
PUT    I/deprecation                             pt   404 401 404 404 404 404 404 404 404 404 404
PUT    I/deprecation                             none 404 401 404 404 404 404 404 404 404 404 404
DELETE I/deprecation                             pi   401 401 403 200 200 403 403 403 403 200 200
DELETE I/deprecation                             si   404 401 403 200 200 404 404 404 403 200 200
DELETE I/deprecation                             none 404 401 404 404 404 404 404 404 404 404 404
DELETE I                                         pi   401 401 403 403 200 403 403 403 403 403 200
DELETE I                                         si   404 401 403 403 200 404 404 404 403 403 200
DELETE I                                         pt   404 401 404 404 404 404 404 404 404 404 404
DELETE I                                         none 404 401 404 404 404 404 404 404 404 404 404
POST   I/undelete                                pi   401 401 403 403 200 403 403 403 403 403 200
POST   I/undelete                                si   404 401 403 403 200 404 404 404 403 403 200
POST   I/undelete                                none 404 401 404 404 404 404 404 404 404 404 404
GET    B/referrers                               pi   200 401 200 200 200 200 200 200 200 200 200
GET    B/referrers                               si   404 401 200 200 200 404 404 404 200 200 200
GET    B/referrers                               none 404 401 404 404 404 404 404 404 404 404 404
POST   B/publish                                 pi   401 401 403 409 409 403 403 403 403 409 409
POST   B/publish                                 si   404 401 403 409 409 404 404 404 403 409 409
POST   B/publish                                 none 404 401 404 404 404 404 404 404 404 404 404
GET    /<namespace>/<name>/raw/<ref>/<path:path> pt   200 401 200 200 200 200 200 200 200 200 200
GET    /<namespace>/<name>/raw/<ref>/<path:path> st   404 401 200 200 200 404 404 404 200 200 200
GET    /<namespace>/<name>/raw/<ref>/<path:path> pi   200 401 200 200 200 200 200 200 200 200 200
GET    /<namespace>/<name>/raw/<ref>/<path:path> si   404 401 200 200 200 404 404 404 200 200 200
GET    /<namespace>/<name>/raw/<ref>/<path:path> none 404 401 404 404 404 404 404 404 404 404 404
POST   T/raw-url                                 pt   200 401 200 200 200 200 200 200 200 200 200
POST   T/raw-url                                 st   404 401 200 200 200 404 404 404 200 200 200
POST   T/raw-url                                 pi   404 401 404 404 404 404 404 404 404 404 404
POST   T/raw-url                                 none 404 401 404 404 404 404 404 404 404 404 404
GET    SIGNED                                    pt   200 200 200 200 200 200 200 200 200 200 200
GET    SIGNED                                    st   404 404 404 404 404 404 404 404 404 404 404
GET    SIGNED                                    pi   404 404 404 404 404 404 404 404 404 404 404
GET    SIGNED                                    si   404 404 404 404 404 404 404 404 404 404 404
GET    SIGNED                                    none 404 404 404 404 404 404 404 404 404 404 404
GET    G/info/refs?service=git-upload-pack       pt   200 401 200 200 200 200 200 200 200 200 200
GET    G/info/refs?service=git-upload-pack       st   401 401 200 200 200 404 404 404 200 200 200
GET    G/info/refs?service=git-upload-pack       pi   200 401 200 200 200 200 200 200 200 200 200
GET    G/info/refs?service=git-upload-pack       si   401 401 200 200 200 404 404 404 200 200 200
GET    G/info/refs?service=git-upload-pack       none 401 401 404 404 404 404 404 404 404 404 404
POST   G/git-upload-pack                         pt   200 401 200 200 200 200 200 200 200 200 200
POST   G/git-upload-pack                         st   401 401 200 200 200 404 404 404 200 200 200
POST   G/git-upload-pack                         pi   200 401 200 200 200 200 200 200 200 200 200
POST   G/git-upload-pack                         si   401 401 200 200 200 404 404 404 200 200 200
POST   G/git-upload-pack                         none 401 401 404 404 404 404 404 404 404 404 404
GET    G/info/refs?service=git-receive-pack      pt   401 401 401 200 200 401 401 401 401 200 200
GET    G/info/refs?service=git-receive-pack      st   401 401 401 200 200 401 401 401 401 200 200
GET    G/info/refs?service=git-receive-pack      pi   401 401 401 403 403 401 401 401 401 403 403
GET    G/info/refs?service=git-receive-pack      si   401 401 401 403 403 401 401 401 401 403 403
GET    G/info/refs?service=git-receive-pack      none 401 401 401 200 200 401 401 401 401 200 200
POST   G/git-receive-pack                        pt   401 401 401 200 200 401 401 401 401 200 200
POST   G/git-receive-pack                        st   401 401 401 200 200 401 401 401 401 200 200
POST   G/git-receive-pack                        pi   401 401 401 403 403 401 401 401 401 403 403
POST   G/git-receive-pack                        si   401 401 401 403 403 401 401 401 401 403 403
POST   G/git-receive-pack                        none 401 401 401 200 200 401 401 401 401 200 200
GET    T/tree/<path:ref_path>                    pt   200 401 200 200 200 200 200 200 200 200 200
GET    T/tree/<path:ref_path>                    st   404 401 200 200 200 404 404 404 200 200 200
GET    T/tree/<path:ref_path>                    pi   404 401 404 404 404 404 404 404 404 404 404
GET    T/tree/<path:ref_path>                    none 404 401 404 404 404 404 404 404 404 404 404
GET    T/branches                                pt   200 401 200 200 200 200 200 200 200 200 200
GET    T/branches                                st   404 401 200 200 200 404 404 404 200 200 200
GET    T/branches                                pi   404 401 404 404 404 404 404 404 404 404 404
GET    T/branches                                none 404 401 404 404 404 404 404 404 404 404 404
GET    T/tags                                    pt   200 401 200 200 200 200 200 200 200 200 200
GET    T/tags                                    st   404 401 200 200 200 404 404 404 200 200 200
GET    T/tags                                    pi   404 401 404 404 404 404 404 404 404 404 404
GET    T/tags                                    none 404 401 404 404 404 404 404 404 404 404 404
GET    I/tree/<path:ref_path>                    pi   200 401 200 200 200 200 200 200 200 200 200
GET    I/tree/<path:ref_path>                    si   404 401 200 200 200 404 404 404 200 200 200
GET    I/tree/<path:ref_path>                    pt   404 401 404 404 404 404 404 404 404 404 404
GET    I/tree/<path:ref_path>                    none 404 401 404 404 404 404 404 404 404 404 404
GET    I/branches                                pi   200 401 200 200 200 200 200 200 200 200 200
GET    I/branches                                si   404 401 200 200 200 404 404 404 200 200 200
GET    I/branches                                pt   404 401 404 404 404 404 404 404 404 404 404
GET    I/branches                                none 404 401 404 404 404 404 404 404 404 404 404
GET    I/tags                                    pi   200 401 200 200 200 200 200 200 200 200 200
GET    I/tags                                    si   404 401 200 200 200 404 404 404 200 200 200
GET    I/tags                                    pt   404 401 404 404 404 404 404 404 404 404 404
GET    I/tags                                    none 404 401 404 404 404 404 404 404 404 404 404
GET    /<repo:namespace>/<repo:name>             pt   200 401 200 200 200 200 200 200 200 200 200
GET    /<repo:namespace>/<repo:name>             st   404 401 200 200 200 404 404 404 200 200 200
GET    /<repo:namespace>/<repo:name>             pi   200 401 200 200 200 200 200 200 200 200 200
GET    /<repo:namespace>/<repo:name>             si   404 401 200 200 200 404 404 404 200 200 200
GET    /<repo:namespace>/<repo:name>             none 404 401 404 404 404 404 404 404 404 404 404
GET    /<repo:namespace>/<repo:name>/info/refs   pt   301 301 301 301 301 301 301 301 301 301 301
GET    /<repo:namespace>/<repo:name>/info/refs   st   301 301 301 301 301 301 301 301 301 301 301
GET    /<repo:namespace>/<repo:name>/info/refs   pi   301 301 301 301 301 301 301 301 301 301 301
GET    /<repo:namespace>/<repo:name>/info/refs   si   301 301 301 301 301 301 301 301 301 301 301
GET    /<repo:namespace>/<repo:name>/info/refs   none 301 301 301 301 301 301 301 301 301 301 301
GET    T#unreachable                             pt   404 401 404 404 404 404 404 404 404 404 404
GET    T#unreachable                             st   404 401 404 404 404 404 404 404 404 404 404
GET    T#unreachable                             none 404 401 404 404 404 404 404 404 404 404 404
GET    T/commits#unreachable                     pt   404 401 404 404 404 404 404 404 404 404 404
GET    T/commits#unreachable                     st   404 401 404 404 404 404 404 404 404 404 404
GET    T/commits#unreachable                     none 404 401 404 404 404 404 404 404 404 404 404
GET    T/diff#unreachable                        pt   404 401 404 404 404 404 404 404 404 404 404
GET    T/diff#unreachable                        st   404 401 404 404 404 404 404 404 404 404 404
GET    T/diff#unreachable                        none 404 401 404 404 404 404 404 404 404 404 404
GET    RAW#unreachable                           pt   404 401 404 404 404 404 404 404 404 404 404
GET    RAW#unreachable                           st   404 401 404 404 404 404 404 404 404 404 404
GET    RAW#unreachable                           none 404 401 404 404 404 404 404 404 404 404 404
POST   T/versions#unreachable                    pt   401 401 403 404 404 403 403 403 403 404 404
POST   T/versions#unreachable                    st   404 401 403 404 404 404 404 404 403 404 404
POST   T/versions#unreachable                    none 404 401 404 404 404 404 404 404 404 404 404
POST   G/git-upload-pack#unreachable             pt   200 401 200 200 200 200 200 200 200 200 200
POST   G/git-upload-pack#unreachable             st   401 401 200 200 200 404 404 404 200 200 200
POST   G/git-upload-pack#unreachable             none 401 401 404 404 404 404 404 404 404 404 404
GET    T#lifecycle                               pt   404 401 404 404 404 404 404 404 404 404 404
GET    T#lifecycle                               st   404 401 404 404 404 404 404 404 404 404 404
GET    T#lifecycle                               none 404 401 404 404 404 404 404 404 404 404 404
GET    T/commits#lifecycle                       pt   404 401 404 404 404 404 404 404 404 404 404
GET    T/commits#lifecycle                       st   404 401 404 404 404 404 404 404 404 404 404
GET    T/commits#lifecycle                       none 404 401 404 404 404 404 404 404 404 404 404
GET    T/diff#lifecycle                          pt   404 401 404 404 404 404 404 404 404 404 404
GET    T/diff#lifecycle                          st   404 401 404 404 404 404 404 404 404 404 404
GET    T/diff#lifecycle                          none 404 401 404 404 404 404 404 404 404 404 404
GET    RAW#lifecycle                             pt   404 401 404 404 404 404 404 404 404 404 404
GET    RAW#lifecycle                             st   404 401 404 404 404 404 404 404 404 404 404
GET    RAW#lifecycle                             none 404 401 404 404 404 404 404 404 404 404 404
POST   T/versions#lifecycle                      pt   401 401 403 404 404 403 403 403 403 404 404
POST   T/versions#lifecycle                      st   404 401 403 404 404 404 404 404 403 404 404
POST   T/versions#lifecycle                      none 404 401 404 404 404 404 404 404 404 404 404
POST   G/git-upload-pack#lifecycle               pt   200 401 200 200 200 200 200 200 200 200 200
POST   G/git-upload-pack#lifecycle               st   401 401 200 200 200 404 404 404 200 200 200
POST   G/git-upload-pack#lifecycle               none 401 401 404 404 404 404 404 404 404 404 404
POST   G/git-receive-pack#sha-named              pt   401 401 401 200 200 401 401 401 401 200 200
POST   G/git-receive-pack#sha-named              st   401 401 401 200 200 401 401 401 401 200 200
POST   G/git-receive-pack#lifecycle-ref          pt   401 401 401 200 200 401 401 401 401 200 200
POST   G/git-receive-pack#lifecycle-ref          st   401 401 401 200 200 401 401 401 401 200 200
GET    /                                         pt   200 401 200 200 200 200 200 200 200 200 200
GET    /                                         st   200 401 200 200 200 200 200 200 200 200 200
GET    /ui/images                                pi   200 401 200 200 200 200 200 200 200 200 200
GET    /ui/images                                si   200 401 200 200 200 200 200 200 200 200 200
GET    /ui/sign-in                               -    200 200 200 200 200 200 200 200 200 200 200
POST   /ui/sign-in                               -    303 303 303 303 303 303 303 303 303 303 303
POST   /ui/sign-out                              -    303 303 303 303 303 303 303 303 303 303 303
GET    /ui/code.css                              -    200 200 200 200 200 200 200 200 200 200 200
GET    /ui/static/<path:filename>                -    200 200 200 200 200 200 200 200 200 200 200
GET    W/files                                   pt   303 401 303 303 303 303 303 303 303 303 303
GET    W/files                                   st   404 401 303 303 303 404 404 404 303 303 303
GET    W/files                                   pi   404 401 404 404 404 404 404 404 404 404 404
GET    W/files                                   none 404 401 404 404 404 404 404 404 404 404 404
GET    W/files/<ref>                             pt   200 401 200 200 200 200 200 200 200 200 200
GET    W/files/<ref>                             st   404 401 200 200 200 404 404 404 200 200 200
GET    W/files/<ref>                             pi   404 401 404 404 404 404 404 404 404 404 404
GET    W/files/<ref>                             none 404 401 404 404 404 404 404 404 404 404 404
GET    W/files/<ref>/<path:path>                 pt   200 401 200 200 200 200 200 200 200 200 200
GET    W/files/<ref>/<path:path>                 st   404 401 200 200 200 404 404 404 200 200 200
GET    W/files/<ref>/<path:path>                 pi   404 401 404 404 404 404 404 404 404 404 404
GET    W/files/<ref>/<path:path>                 none 404 401 404 404 404 404 404 404 404 404 404
GET    W/versions                                pt   200 401 200 200 200 200 200 200 200 200 200
GET    W/versions                                st   404 401 200 200 200 404 404 404 200 200 200
GET    W/versions                                pi   404 401 404 404 404 404 404 404 404 404 404
GET    W/versions                                none 404 401 404 404 404 404 404 404 404 404 404
GET    W/history                                 pt   200 401 200 200 200 200 200 200 200 200 200
GET    W/history                                 st   404 401 200 200 200 404 404 404 200 200 200
GET    W/history                                 pi   404 401 404 404 404 404 404 404 404 404 404
GET    W/history                                 none 404 401 404 404 404 404 404 404 404 404 404
GET    W/graph.svg                               pt   200 401 200 200 200 200 200 200 200 200 200
GET    W/graph.svg                               st   404 401 200 200 200 404 404 404 200 200 200
GET    W/graph.svg                               pi   404 401 404 404 404 404 404 404 404 404 404
GET    W/graph.svg                               none 404 401 404 404 404 404 404 404 404 404 404
GET    W/compare                                 pt   200 401 200 200 200 200 200 200 200 200 200
GET    W/compare                                 st   404 401 200 200 200 404 404 404 200 200 200
GET    W/compare                                 pi   200 401 200 200 200 200 200 200 200 200 200
GET    W/compare                                 si   404 401 200 200 200 404 404 404 200 200 200
GET    W/compare                                 none 404 401 404 404 404 404 404 404 404 404 404
"""


ABBREVIATIONS = {
    "T": "/api/v1/templates/<namespace>/<name>",
    "I": "/api/v1/images/<namespace>/<name>",
    "B": "/api/v1/builds/<build_id>",
    "G": "/<ns>/<name>.git",
    "RAW": "/<namespace>/<name>/raw/<ref>/<path:path>",
    "SIGNED": "/<namespace>/<name>/signed/<signature>/raw/<commit>/<path:path>",
    "W": "/<repo:namespace>/<repo:name>",  # the web UI's pages of a repository
}


def parse_expected(text: str) -> dict[tuple[str, str], dict[str, int]]:
    """``{(endpoint, repo): {principal: status}}`` from the table."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    header = lines[0].split()
    assert header[3:] == list(PRINCIPALS), header
    table: dict[tuple[str, str], dict[str, int]] = {}
    for line in lines[1:]:
        method, short, repo, *statuses = line.split()
        path = short
        for abbreviation, full in ABBREVIATIONS.items():
            if short.startswith(abbreviation):
                path = full + short[len(abbreviation):]
        assert repo in (*REPOS, "-") and len(statuses) == len(PRINCIPALS), line
        key = (f"{method} {path}", repo)
        assert key not in table, f"row given twice: {line}"
        table[key] = dict(zip(PRINCIPALS, map(int, statuses), strict=True))
    return table


TABLE = parse_expected(EXPECTED)


# -- the git endpoint and the API decide alike ----------------------------------
# Both ask one access policy (heater.auth.policy); git only renders the answer
# its own way: 401 to an anonymous caller where the API says 404 (a private
# repository and a missing one read alike), 401 where the API says 403 (git
# then asks for other credentials), 200 for any success. A clone is the
# API's raw read (neither cares about the kind); a push, which may create
# the repository, is what a build is to an image: each row pair below names
# the API's row, then git's, with the repository keys that correspond.
ALIKE = (
    ("GET /<namespace>/<name>/raw/<ref>/<path:path>",
     "GET /<ns>/<name>.git/info/refs?service=git-upload-pack", {k: k for k in REPOS}),
    ("GET /<namespace>/<name>/raw/<ref>/<path:path>",
     "POST /<ns>/<name>.git/git-upload-pack", {k: k for k in REPOS}),
    ("POST /api/v1/images/<namespace>/<name>/builds",
     "GET /<ns>/<name>.git/info/refs?service=git-receive-pack",
     {"pi": "pt", "si": "st", "none": "none"}),
    ("POST /api/v1/images/<namespace>/<name>/builds",
     "POST /<ns>/<name>.git/git-receive-pack", {"pi": "pt", "si": "st", "none": "none"}),
)


def as_git(status: int, principal: str) -> int:
    if (status == 404 and principal == "anon") or status == 403:
        return 401
    return 200 if status in (200, 201) else status


def test_git_and_the_api_decide_alike() -> None:
    differ = []
    for api_row, git_row, keys in ALIKE:
        for api_key, git_key in keys.items():
            rendered = {p: as_git(s, p) for p, s in TABLE[(api_row, api_key)].items()}
            if rendered != TABLE[(git_row, git_key)]:
                differ.append(f"{api_row} [{api_key}] vs {git_row} [{git_key}]")
    assert differ == []


# -- how each endpoint is called ------------------------------------------------

@dataclass
class Call:
    method: str
    path: str
    target: str = ""            # the name or id the request names (for comparisons)
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    data: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    after: Callable[[requests.Response], object] | None = None

    def send(self, world: World, principal: str) -> requests.Response:
        response = requests.request(
            self.method, world.url(self.path), params=self.params, json=self.json,
            data=self.data, headers={**world.headers(principal), **self.headers},
            timeout=60, allow_redirects=False)
        if self.after is not None:
            self.after(response)
        return response


def _tpl(world: World, key: str, suffix: str = "") -> tuple[str, str]:
    name = world.name(key)
    return f"/api/v1/templates/{world.ns}/{name}{suffix}", name


def _admin(world: World, method: str, path: str, expect: tuple[int, str | None],
           **kwargs: Any) -> None:
    """A request as admin that must answer ``expect``: (status, error code)."""
    response = requests.request(method, world.url(path), headers=world.admin(), timeout=60,
                                **kwargs)
    code = response.json().get("error", {}).get("code")
    assert (response.status_code, code) == expect, (method, path, response.text)


def _lifecycle(method: str, suffix: str, body: Any = None,
               before: tuple[str, str] | None = None,
               undo: tuple[str, str] | None = None,
               collection: str = "templates") -> Callable[[World, str], Call]:
    """A lifecycle action on a repository of ``collection``: ``before`` (as
    admin) puts the repository in the state the action needs, ``undo`` (as
    admin) restores it afterwards."""
    def make(world: World, key: str) -> Call:
        name = world.name(key)
        path = f"/api/v1/{collection}/{world.ns}/{name}"
        ours = ("pt", "st") if collection == "templates" else ("pi", "si")
        missing = None if key in ours else (404, "repository_not_found")
        if before is not None:
            setup = {"reason": "x"} if before[1] == "/deprecation" else {"reason": "setup"}
            _admin(world, before[0], path + before[1], missing or (200, None), json=setup)

        def after(response: requests.Response) -> None:
            assert undo is not None
            # There is something to undo when the action took effect, unless
            # the undo is the action itself (then when it did not).
            pending = (response.status_code == 200) != (undo == (method, suffix))
            _admin(world, undo[0], path + undo[1],
                   missing or ((200, None) if pending else (409, "already_done")),
                   json={"reason": "undo"})
        return Call(method, path + suffix, name, json=body,
                    after=after if undo is not None else None)
    return make


def _git(method: str, service: str) -> Callable[[World, str], Call]:
    def make(world: World, key: str) -> Call:
        name = world.name(key)
        base = f"/{world.ns}/{name}.git"
        if method == "GET":
            return Call("GET", f"{base}/info/refs", name, params={"service": service})
        # A flush alone: a valid request that asks for nothing and changes nothing.
        return Call("POST", f"{base}/{service}", name, data=b"0000",
                    headers={"Content-Type": f"application/x-{service}-request"})
    return make


def _build_id(world: World, key: str) -> str:
    return world.builds[key] if key != "none" else str(uuid.uuid4())


def _fresh_build(world: World, key: str, uploaded: bool) -> str:
    if key == "none":
        return str(uuid.uuid4())
    token = world.token("A")
    assert token is not None
    image = f"{world.ns}/{world.names[key]}"
    if uploaded:
        return push(world.server, token, image, b"more bytes")
    return queue_build(world.server, token, image)


def _listing(collection: str) -> Callable[[World, str], Call]:
    def make(world: World, key: str) -> Call:
        # The namespace's listing, and a full-text search for the private word.
        params = ({"namespace": world.ns} if key.startswith("p")
                  else {"q": world.secret_word()})
        return Call("GET", f"/api/v1/{collection}", params=params)
    return make


def _create_template(world: World, key: str) -> Call:
    name = world.name(key)
    return Call("POST", "/api/v1/templates", name, json={"namespace": world.ns, "name": name})


def _create_version(world: World, key: str) -> Call:
    path, name = _tpl(world, key, "/versions")
    return Call("POST", path, name, json={"version": f"v2.0.{world.fresh('x').split('-')[1]}",
                                          "ref": "main"})


def _raw(world: World, key: str) -> Call:
    name = world.name(key)
    file = "manifest.json" if key.endswith("i") else "template.yaml"
    return Call("GET", f"/{world.ns}/{name}/raw/main/{file}", name)


def _sign_raw_url(world: World, key: str) -> Call:
    path, name = _tpl(world, key, "/raw-url")
    return Call("POST", path, name, json={"ref": "main", "expires_in": 600})


_SIGNED: dict[str, str] = {}  # namespace -> "signed/<signature>/raw/<commit>/template.yaml"


def _signed(world: World, key: str) -> Call:
    """The public template's signed URL, with ``key``'s name in it."""
    if world.ns not in _SIGNED:
        made = requests.post(f"{world.server.url}/api/v1/templates/{world.ns}/"
                             f"{world.name('pt')}/raw-url", json={"ref": "main"}, timeout=30)
        assert made.status_code == 200, made.text
        _SIGNED[world.ns] = made.json()["url"].split(f"/{world.name('pt')}/", 1)[1]
    name = world.name(key)
    return Call("GET", f"/{world.ns}/{name}/{_SIGNED[world.ns]}", name)


def _image(suffix: str, params: dict[str, str] | None = None) -> Callable[[World, str], Call]:
    def make(world: World, key: str) -> Call:
        name = world.name(key)
        return Call("GET", f"/api/v1/images/{world.ns}/{name}{suffix}", name,
                    params=params or {})
    return make


def _create_build(world: World, key: str) -> Call:
    name = world.name(key)
    return Call("POST", f"/api/v1/images/{world.ns}/{name}/builds", name,
                json=UBUNTU_MANIFEST)


def _build(method: str, suffix: str = "", fresh: bool | None = None,
           data: bytes | None = None) -> Callable[[World, str], Call]:
    def make(world: World, key: str) -> Call:
        build_id = (_build_id(world, key) if fresh is None
                    else _fresh_build(world, key, uploaded=fresh))
        headers = {"Content-Type": "application/octet-stream"} if data is not None else {}
        return Call(method, f"/api/v1/builds/{build_id}{suffix}", build_id, data=data,
                    headers=headers)
    return make


def _read(suffix: str, params: dict[str, str] | None = None) -> Callable[[World, str], Call]:
    def make(world: World, key: str) -> Call:
        path, name = _tpl(world, key, suffix)
        return Call("GET", path, name, params=params or {})
    return make


def _validate(world: World, key: str) -> Call:
    path, name = _tpl(world, key, "/validate")
    return Call("POST", path, name, json={"parameters": {}})


def _settings(collection: str) -> Callable[[World, str], Call]:
    """A PATCH that asks for the visibility the repository has: allowed
    or not, it changes nothing."""
    def make(world: World, key: str) -> Call:
        name = world.name(key)
        visibility = "private" if key.startswith("s") else "public"
        return Call("PATCH", f"/api/v1/{collection}/{world.ns}/{name}", name,
                    json={"visibility": visibility})
    return make


def _page(suffix: str, params: dict[str, str] | None = None) -> Callable[[World, str], Call]:
    """A URL of the repository outside the API (its page, git without .git)."""
    def make(world: World, key: str) -> Call:
        name = world.name(key)
        return Call("GET", f"/{world.ns}/{name}{suffix}", name, params=params or {})
    return make


# Browsing: the route's suffix, and the path a call asks for.
BROWSE = (("/tree/<path:ref_path>", "/tree/main"), ("/branches", "/branches"),
          ("/tags", "/tags"))
YANK = "/versions/v1.0.0/yank"
# The images' lifecycle: the templates' rules (heater/repos/service.py).
Action = tuple[str, str, Any, tuple[str, str] | None, tuple[str, str]]
IMAGE_LIFECYCLE: list[tuple[str, str, Action]] = [
    ("POST", "/versions/<version>/yank", ("POST", YANK, {"reason": "matrix"}, None,
                                          ("DELETE", YANK))),
    ("DELETE", "/versions/<version>/yank", ("DELETE", YANK, None, ("POST", YANK),
                                            ("DELETE", YANK))),
    ("PUT", "/deprecation", ("PUT", "/deprecation", {"reason": "matrix"}, None,
                             ("DELETE", "/deprecation"))),
    ("DELETE", "/deprecation", ("DELETE", "/deprecation", None, ("PUT", "/deprecation"),
                                ("DELETE", "/deprecation"))),
    ("DELETE", "", ("DELETE", "", {"reason": "matrix"}, None, ("POST", "/undelete"))),
    ("POST", "/undelete", ("POST", "/undelete", None, ("DELETE", ""), ("POST", "/undelete"))),
]
CASES: dict[str, Callable[[World, str], Call]] = {
    "GET /healthz": lambda world, key: Call("GET", "/healthz"),
    "GET /metrics": lambda world, key: Call("GET", "/metrics"),
    "GET /api/v1/openapi.json": lambda world, key: Call("GET", "/api/v1/openapi.json"),
    "GET /api/v1/templates": _listing("templates"),
    "GET /api/v1/images": _listing("images"),
    "POST /api/v1/templates": _create_template,
    "GET /api/v1/templates/<namespace>/<name>": _read(""),
    "GET /api/v1/templates/<namespace>/<name>/versions": _read("/versions"),
    "GET /api/v1/templates/<namespace>/<name>/versions/<version>": _read("/versions/1.0.0"),
    "GET /api/v1/templates/<namespace>/<name>/commits": _read("/commits"),
    "GET /api/v1/templates/<namespace>/<name>/bundle": _read("/bundle", {"ref": "v1.0.0"}),
    "GET /api/v1/templates/<namespace>/<name>/diff": _read("/diff", {"from": "v1.0.0",
                                                                     "to": "main"}),
    "GET /api/v1/templates/<namespace>/<name>/lifecycle": _read("/lifecycle"),
    "GET /api/v1/templates/<namespace>/<name>/schema": _read("/schema"),
    "POST /api/v1/templates/<namespace>/<name>/validate": _validate,
    "POST /api/v1/templates/<namespace>/<name>/versions": _create_version,
    "POST /api/v1/templates/<namespace>/<name>/versions/<version>/yank": _lifecycle(
        "POST", YANK, {"reason": "matrix"}, undo=("DELETE", YANK)),
    "DELETE /api/v1/templates/<namespace>/<name>/versions/<version>/yank": _lifecycle(
        "DELETE", YANK, before=("POST", YANK), undo=("DELETE", YANK)),
    "PUT /api/v1/templates/<namespace>/<name>/deprecation": _lifecycle(
        "PUT", "/deprecation", {"reason": "matrix"}, undo=("DELETE", "/deprecation")),
    "DELETE /api/v1/templates/<namespace>/<name>/deprecation": _lifecycle(
        "DELETE", "/deprecation", before=("PUT", "/deprecation"),
        undo=("DELETE", "/deprecation")),
    "DELETE /api/v1/templates/<namespace>/<name>": _lifecycle(
        "DELETE", "", {"reason": "matrix"}, undo=("POST", "/undelete")),
    "POST /api/v1/templates/<namespace>/<name>/undelete": _lifecycle(
        "POST", "/undelete", before=("DELETE", ""), undo=("POST", "/undelete")),
    "GET /api/v1/images/<namespace>/<name>": _image(""),
    "PATCH /api/v1/templates/<namespace>/<name>": _settings("templates"),
    "PATCH /api/v1/images/<namespace>/<name>": _settings("images"),
    "GET /api/v1/images/<namespace>/<name>/versions/<version>": _image("/versions/1.0.0"),
    "GET /api/v1/images/<namespace>/<name>/builds": _image("/builds"),
    "GET /api/v1/images/<namespace>/<name>/lifecycle": _image("/lifecycle"),
    **{f"{case} {ABBREVIATIONS['I']}{suffix}": _lifecycle(*action, collection="images")
       for case, suffix, action in IMAGE_LIFECYCLE},
    "GET /api/v1/images/<namespace>/<name>/versions": _image("/versions"),
    "GET /api/v1/images/<namespace>/<name>/diff": _image("/diff", {"from": "1.0.0",
                                                                   "to": "latest"}),
    "POST /api/v1/images/<namespace>/<name>/builds": _create_build,
    "GET /api/v1/builds/<build_id>": _build("GET"),
    "GET /api/v1/builds/<build_id>/file": _build("GET", "/file"),
    "PUT /api/v1/builds/<build_id>/file": _build("PUT", "/file", fresh=False,
                                                 data=b"uploaded bytes"),
    "DELETE /api/v1/builds/<build_id>": _build("DELETE", fresh=True),
    # The matrix's server publishes to no Glance: who gets past the access
    # check learns that (409), tests/images/test_glance.py publishes for real.
    "POST /api/v1/builds/<build_id>/publish": _build("POST", "/publish"),
    "GET /api/v1/builds/<build_id>/referrers": _build("GET", "/referrers"),
    "GET /<namespace>/<name>/raw/<ref>/<path:path>": _raw,
    **{f"GET /api/v1/templates/<namespace>/<name>{suffix}": _read(path)
       for suffix, path in BROWSE},
    **{f"GET /api/v1/images/<namespace>/<name>{suffix}": _image(path)
       for suffix, path in BROWSE},
    "GET /<repo:namespace>/<repo:name>": _page(""),
    "GET /<repo:namespace>/<repo:name>/info/refs": _page("/info/refs",
                                                         {"service": "git-upload-pack"}),
    "POST /api/v1/templates/<namespace>/<name>/raw-url": _sign_raw_url,
    "GET /<namespace>/<name>/signed/<signature>/raw/<commit>/<path:path>": _signed,
    **{f"GET /<ns>/<name>.git/info/refs?service={s}": _git("GET", s) for s in SERVICES},
    **{f"POST /<ns>/<name>.git/{s}": _git("POST", s) for s in SERVICES},
}


# -- rows with a hostile argument ---------------------------------------------------
# A commit that no ref leads to (a deleted branch's), or one of the history
# under refs/heater/lifecycle, is stored but no template URL and no fetch may
# read it: whoever may read the repository learns only that there is no such
# ref, and the others what a missing repository answers. No writer may push
# a ref named like a full SHA (it would take over that SHA's URLs) or
# Heater's own lifecycle ref. What a caller who may read (for a push: write)
# gets, beyond the status: the error code, or a line of git's answer.
VARIANT_ANSWERS = {
    **{f"{endpoint}#{hidden}": answer for hidden in ("unreachable", "lifecycle")
       for endpoint, answer in (
           ("GET /api/v1/templates/<namespace>/<name>", (404, "unknown_ref")),
           ("GET /api/v1/templates/<namespace>/<name>/commits", (404, "unknown_ref")),
           ("GET /api/v1/templates/<namespace>/<name>/diff", (404, "unknown_ref")),
           ("GET /<namespace>/<name>/raw/<ref>/<path:path>", (404, "unknown_ref")),
           ("POST /api/v1/templates/<namespace>/<name>/versions", (404, "unknown_ref")),
           ("POST /<ns>/<name>.git/git-upload-pack", (200, "ERR upload-pack: not our ref")))},
    "POST /<ns>/<name>.git/git-receive-pack#sha-named": (200, "ng refs/heads/"),
    "POST /<ns>/<name>.git/git-receive-pack#lifecycle-ref": (200, "ng refs/heater/lifecycle"),
}
ZERO = "0" * 40
EMPTY_PACK = b"PACK\x00\x00\x00\x02\x00\x00\x00\x00" + bytes.fromhex(
    "029d08823bd8a8eab510ad6ac75c823cfd3ed31e")


def _pkt(line: str) -> bytes:
    return f"{len(line.encode()) + 4:04x}{line}".encode()


def _hidden(world: World, key: str, which: str) -> str:
    # "none" asks for the private template's commit: it must answer alike.
    return world.hidden["pt" if key == "pt" else "st"][which]


def _at_hidden(method: str, suffix: str, which: str) -> Callable[[World, str], Call]:
    def make(world: World, key: str) -> Call:
        path, name = _tpl(world, key, suffix)
        sha = _hidden(world, key, which)
        if method == "POST":
            number = world.fresh("x").split("-")[1]
            return Call(method, path, name, json={"version": f"v3.0.{number}", "ref": sha})
        params = {"from": "v1.0.0", "to": sha} if suffix == "/diff" else {"ref": sha}
        return Call(method, path, name, params=params)
    return make


def _raw_at_hidden(which: str) -> Callable[[World, str], Call]:
    def make(world: World, key: str) -> Call:
        name = world.name(key)
        return Call("GET", f"/{world.ns}/{name}/raw/{_hidden(world, key, which)}/template.yaml",
                    name)
    return make


def _fetch_hidden(which: str) -> Callable[[World, str], Call]:
    def make(world: World, key: str) -> Call:
        name = world.name(key)
        body = _pkt(f"want {_hidden(world, key, which)}\n") + b"0000" + _pkt("done\n")
        return Call("POST", f"/{world.ns}/{name}.git/git-upload-pack", name, data=body,
                    headers={"Content-Type": "application/x-git-upload-pack-request"})
    return make


def _push_refused(ref: str | None) -> Callable[[World, str], Call]:
    """A push of the current main to ``ref`` (None: a branch named like it)."""
    def make(world: World, key: str) -> Call:
        name = world.name(key)
        head = world.rev(key, "main")
        target = ref or f"refs/heads/{head}"
        old = world.rev(key, target) if ref is not None else ZERO
        before = world.refs(key)

        def unchanged(response: requests.Response) -> None:
            assert world.refs(key) == before, response.text
        body = _pkt(f"{old} {head} {target}\0 report-status\n") + b"0000" + EMPTY_PACK
        return Call("POST", f"/{world.ns}/{name}.git/git-receive-pack", name, data=body,
                    headers={"Content-Type": "application/x-git-receive-pack-request"},
                    after=unchanged)
    return make


for _which in ("unreachable", "lifecycle"):
    CASES.update({
        f"GET /api/v1/templates/<namespace>/<name>#{_which}": _at_hidden("GET", "", _which),
        f"GET /api/v1/templates/<namespace>/<name>/commits#{_which}": _at_hidden(
            "GET", "/commits", _which),
        f"GET /api/v1/templates/<namespace>/<name>/diff#{_which}": _at_hidden(
            "GET", "/diff", _which),
        f"GET /<namespace>/<name>/raw/<ref>/<path:path>#{_which}": _raw_at_hidden(_which),
        f"POST /api/v1/templates/<namespace>/<name>/versions#{_which}": _at_hidden(
            "POST", "/versions", _which),
        f"POST /<ns>/<name>.git/git-upload-pack#{_which}": _fetch_hidden(_which),
    })
CASES["POST /<ns>/<name>.git/git-receive-pack#sha-named"] = _push_refused(None)
CASES["POST /<ns>/<name>.git/git-receive-pack#lifecycle-ref"] = _push_refused(
    "refs/heater/lifecycle")


# -- the web UI's pages --------------------------------------------------------
# Pages answer as the API does (a bad token is 401, a private repository
# the 404 page of a missing one); the forms and static files need no one.

def _graph(world: World, key: str) -> Call:
    ensure_packages("graphviz", program="dot")  # the server draws with it
    return _page("/graph.svg")(world, key)


def _catalog_page(path: str) -> Callable[[World, str], Call]:
    def make(world: World, key: str) -> Call:
        params = ({"namespace": world.ns} if key.startswith("p")
                  else {"q": world.secret_word()})
        return Call("GET", path, params=params)
    return make


def _sign_in(world: World, key: str) -> Call:
    token = world.token("R")
    assert token is not None
    return Call("POST", "/ui/sign-in", data=f"token={token}&next=/".encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded"})


CASES.update({
    "GET /": _catalog_page("/"),
    "GET /ui/images": _catalog_page("/ui/images"),
    "GET /ui/sign-in": lambda world, key: Call("GET", "/ui/sign-in"),
    "POST /ui/sign-in": _sign_in,
    "POST /ui/sign-out": lambda world, key: Call("POST", "/ui/sign-out"),
    "GET /ui/code.css": lambda world, key: Call("GET", "/ui/code.css"),
    "GET /ui/static/<path:filename>": lambda world, key: Call("GET", "/ui/static/heater.css"),
    "GET /<repo:namespace>/<repo:name>/files": _page("/files"),
    "GET /<repo:namespace>/<repo:name>/files/<ref>": _page("/files/main"),
    "GET /<repo:namespace>/<repo:name>/files/<ref>/<path:path>": _page(
        "/files/main/template.yaml"),
    "GET /<repo:namespace>/<repo:name>/versions": _page("/versions"),
    "GET /<repo:namespace>/<repo:name>/history": _page("/history"),
    "GET /<repo:namespace>/<repo:name>/graph.svg": _graph,
    "GET /<repo:namespace>/<repo:name>/compare": _page("/compare", {"from": "main",
                                                                    "to": "main"}),
})


# -- the endpoint list comes from the application --------------------------------

def _openapi_form(rule: str) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.replace("<ns>", "<namespace>"))


def application_endpoints(tmp_path: Path) -> set[str]:
    """``METHOD rule`` of every Flask route and git service."""
    app = create_app({"DATA_DIR": str(tmp_path / "data")})
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            found.add(f"{method} {rule.rule}")
    for route in ROUTES:
        if route.suffix == "/info/refs":
            found |= {f"GET /<ns>/<name>.git/info/refs?service={s}" for s in SERVICES}
        else:
            found.add(f"{route.method} /<ns>/<name>.git{route.suffix}")
    return found


def test_every_endpoint_is_in_the_matrix(server: Server, tmp_path: Path) -> None:
    endpoints = application_endpoints(tmp_path)
    cases = {case.split("#")[0] for case in CASES}
    assert endpoints - cases == set(), "endpoints missing from the auth matrix"
    assert cases - endpoints == set(), "matrix cases for endpoints that do not exist"
    assert set(VARIANT_ANSWERS) == {case for case in CASES if "#" in case}
    rows = {endpoint for endpoint, _repo in TABLE}
    assert rows == set(CASES), "every case needs rows in EXPECTED, and every row a case"
    in_matrix = {(_openapi_form(re.split("[?#]", c.split()[1])[0]), c.split()[0].lower())
                 for c in cases}
    served = requests.get(f"{server.url}/api/v1/openapi.json", timeout=30).json()
    documented = {(path, method) for path, item in served["paths"].items()
                  for method in item if method in ("get", "post", "put", "patch", "delete")}
    assert documented - in_matrix == set(), "documented endpoints missing from the matrix"


# -- the matrix itself ------------------------------------------------------------

@pytest.fixture(scope="module")
def world(server: Server) -> World:
    return world_for(server)


@dataclass
class Seen:
    endpoint: str
    repo: str
    call: Call
    response: requests.Response

    def text(self) -> str:
        headers = "\n".join(f"{k}: {v}" for k, v in self.response.headers.items())
        return f"{headers}\n{self.response.content.decode('utf-8', 'replace')}"

    def normalised(self) -> tuple[int, str, str, str]:
        """What a caller learns, with the name or id it asked for taken out."""
        body = self.response.content.decode("utf-8", "replace")
        if self.call.target:
            body = body.replace(self.call.target, "<target>")
        return (self.response.status_code, self.response.headers.get("Content-Type", ""),
                self.response.headers.get("WWW-Authenticate", ""), body)


def run_principal(world: World, principal: str) -> Iterator[Seen]:
    for endpoint, repo in TABLE:
        call = CASES[endpoint](world, repo)
        yield Seen(endpoint, repo, call, call.send(world, principal))


# The error code of each refusal status in the table (the API's; git's
# answers are text), unless VARIANT_ANSWERS says what a caller who may read
# the repository gets.
ERROR_CODES = {403: "forbidden", 404: "repository_not_found",
               409: "repository_exists"}


def expected_answer(s: Seen, principal: str) -> tuple[int, str] | None:
    """(status, error code or a line of git's answer) of a cell, where the
    table's status does not say it all."""
    status = s.response.status_code
    variant = VARIANT_ANSWERS.get(s.endpoint)
    if (variant is not None and variant[0] == status
            and (s.repo == "pt" or (s.repo == "st" and principal in READERS))):
        return variant
    if status < 400 or s.endpoint.split()[1].startswith("/<ns>/"):
        return None
    if status == 401:
        return status, "invalid_token" if principal == "bad" else "unauthenticated"
    if status == 404 and s.endpoint.split()[1].startswith("/api/v1/builds/"):
        return status, "build_not_found"
    if status == 409 and s.endpoint.endswith("/publish"):
        return status, "glance_not_configured"
    return status, ERROR_CODES[status]


def answer_is(response: requests.Response, answer: tuple[int, str]) -> bool:
    if response.headers.get("Content-Type", "").startswith("application/json"):
        error = response.json()["error"]
        return (response.status_code, error["code"]) == answer and isinstance(
            error["message"], str)
    return response.status_code == answer[0] and answer[1] in response.text


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_matrix(world: World, principal: str) -> None:
    seen = list(run_principal(world, principal))
    wrong = [f"{s.endpoint} [{s.repo}]: expected {TABLE[(s.endpoint, s.repo)][principal]}, "
             f"got {s.response.status_code}: {s.response.text[:200]}"
             for s in seen if s.response.status_code != TABLE[(s.endpoint, s.repo)][principal]]
    assert wrong == [], f"{principal}:\n" + "\n".join(wrong)

    codes = [f"{s.endpoint} [{s.repo}]: expected {answer}, got {s.response.status_code} "
             f"{s.response.text[:200]}"
             for s in seen if (answer := expected_answer(s, principal)) is not None
             and not answer_is(s.response, answer)]
    assert codes == [], f"{principal}:\n" + "\n".join(codes)
    for s in seen:
        if s.response.status_code == 401:
            assert s.response.headers["WWW-Authenticate"].startswith("Basic"), s.endpoint
    if principal in READERS:
        # Those who may read see it all: the checks below are not vacuous.
        secret = world.secret_word()
        for endpoint, repo, shown in (
                ("GET /api/v1/templates", "st", world.names["st"]),
                ("GET /api/v1/images", "si", world.names["si"]),
                ("GET /<namespace>/<name>/raw/<ref>/<path:path>", "st", secret),
                ("GET /api/v1/images/<namespace>/<name>", "si", secret),
                ("GET /api/v1/builds/<build_id>", "si", secret)):
            cell = next(s for s in seen if (s.endpoint, s.repo) == (endpoint, repo))
            assert shown in cell.text(), (endpoint, repo)
        return
    by_cell = {(s.endpoint, s.repo): s for s in seen}
    for s in seen:
        asked = f"{s.call.path} {s.call.params} {s.call.json}"
        leaked = [m for m in world.private_markers if m in s.text() and m not in asked]
        assert leaked == [], f"{principal} {s.endpoint} [{s.repo}] shows {leaked}:\n{s.text()}"
        # A private repository or build looks exactly like one that does not exist.
        if s.repo in ("st", "si") and (s.endpoint, "none") in by_cell:
            missing = by_cell[(s.endpoint, "none")]
            assert s.normalised() == missing.normalised(), (principal, s.endpoint, s.repo)


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_clone_of_private_template(world: World, git: Git, tmp_path: Path,
                                   principal: str) -> None:
    token = world.token(principal)
    target = tmp_path / "clone"
    clone = git.run("clone", world.server.auth_url(f"{world.ns}/{world.names['st']}.git", token),
                    str(target), check=False)
    secret = world.secret_word()
    if principal in READERS:
        assert clone.returncode == 0, clone.stderr
        assert secret in (target / "template.yaml").read_text()
        return
    assert clone.returncode != 0
    assert not target.exists()
    shown = clone.stdout + clone.stderr
    assert [m for m in world.private_markers if m in shown and m != world.names["st"]] == []
    if principal in ("anon", "bad"):
        assert "could not read Username" in shown or "Authentication failed" in shown
    else:
        assert "not found" in shown


# Reads of a deleted private template: 410 with the tombstone for those who
# may read it (its lifecycle stays readable), and for the others exactly
# what a missing name answers, tombstone and all unseen.
DELETED_READS = {
    "GET /api/v1/templates/<namespace>/<name>": 410,
    "GET /api/v1/templates/<namespace>/<name>/versions": 410,
    "GET /api/v1/templates/<namespace>/<name>/commits": 410,
    "GET /api/v1/templates/<namespace>/<name>/bundle": 410,
    "GET /api/v1/templates/<namespace>/<name>/diff": 410,
    "GET /api/v1/templates/<namespace>/<name>/lifecycle": 200,
    "GET /<namespace>/<name>/raw/<ref>/<path:path>": 410,
    "GET /<ns>/<name>.git/info/refs?service=git-upload-pack": 410,
    "POST /<ns>/<name>.git/git-upload-pack": 410,
}


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_deleted_private_template(world: World, principal: str) -> None:
    for endpoint, status in DELETED_READS.items():
        call = CASES[endpoint](world, "dt")
        seen = Seen(endpoint, "dt", call, call.send(world, principal))
        if principal == "bad":
            assert seen.response.status_code == 401
        elif principal in READERS:
            assert seen.response.status_code == status, (endpoint, seen.response.text)
            assert world.secret_word() in seen.text(), endpoint  # the tombstone's reason
        else:
            missing_call = CASES[endpoint](world, "none")
            missing = Seen(endpoint, "none", missing_call, missing_call.send(world, principal))
            assert seen.normalised() == missing.normalised(), (endpoint, seen.text())
            shown = [m for m in world.private_markers
                     if m in seen.text() and m != world.names["dt"]]
            assert shown == [], (endpoint, shown)
