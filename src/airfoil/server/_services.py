"""Service functions: what each API call does, free of HTTP.

Every function takes the :class:`Deps` (the server's runtime: stores, codecs, clock, the
launcher; its registry and driver) as its first argument and returns a wire model or raises
an Airfoil error; routes only translate HTTP. The server never imports user code: launch
inputs are bound from JSON with the interface's type specs alone
(:func:`airfoil.types.bind_inputs`), and specs arrive as records.

The services live by concept: ``_registration`` (packages, uploads, versions),
``_launching`` (launch, relaunch, recover, terminate, signal), ``_reading`` (lists, values,
events, logs, cache) and ``_detail`` (an execution's detail, graph and map items); this
module gathers them for the routes.
"""

from __future__ import annotations

from airfoil.server._deps import Deps, check_domain, get_head, get_record, own_only
from airfoil.server._detail import (
    execution_detail,
    execution_detail_dict,
    execution_detail_json,
    execution_detail_tagged,
    map_items,
    node_detail,
)
from airfoil.server._launching import (
    convert_json_inputs,
    launch,
    recover,
    relaunch,
    signal,
    terminate,
)
from airfoil.server._reading import (
    SEARCH_WINDOW,
    cache_entries,
    events,
    find_value,
    list_executions,
    logs,
    now_s,
    raw_outputs,
    value_bytes,
    value_export,
)
from airfoil.server._registration import (
    MAX_PACKAGE,
    get_version,
    list_entities,
    list_versions,
    register,
    spec_of_row,
    upload,
    upload_package,
)

__all__ = [
    "MAX_PACKAGE",
    "SEARCH_WINDOW",
    "Deps",
    "cache_entries",
    "check_domain",
    "convert_json_inputs",
    "events",
    "execution_detail",
    "execution_detail_tagged",
    "execution_detail_dict",
    "execution_detail_json",
    "find_value",
    "get_head",
    "get_record",
    "get_version",
    "launch",
    "list_entities",
    "list_executions",
    "list_versions",
    "logs",
    "map_items",
    "node_detail",
    "now_s",
    "own_only",
    "raw_outputs",
    "recover",
    "register",
    "relaunch",
    "signal",
    "spec_of_row",
    "terminate",
    "upload",
    "upload_package",
    "value_bytes",
    "value_export",
]
