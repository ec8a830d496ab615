"""Ray's own code on the project's Compute Engine cluster files, for
tests/gce_cluster_files.rs. Nothing of Ray is changed or stubbed here: the
script only calls it and reports, as one JSON line on stdout, what it said.

    python ray_check.py validate FILE...
        For each file: what `ray up` does before it talks to Google
        (prepare_config, the provider's fill-out, validate_config), with
        every warning Ray logs, prints or raises collected.

    python ray_check.py bootstrap FILE PROJECT REGION ZONE
        Ray's GCP bootstrap (bootstrap_gcp, what `ray up` runs next) on FILE
        with the provider's project, region and zone replaced. The Google
        client finds its credentials, proxy and CA in the environment.
"""
import contextlib
import io
import json
import logging
import sys
import warnings

import yaml


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(f"{record.levelname} {record.name}: {record.getMessage()}")


def validate(paths):
    from ray.autoscaler._private.providers import _get_node_provider_cls
    from ray.autoscaler._private.util import prepare_config, validate_config

    results = {}
    for path in paths:
        handler = Collect()
        # Ray's loggers write to their own handler and do not propagate.
        loggers = [logging.getLogger(), logging.getLogger("ray")]
        for logger in loggers:
            logger.addHandler(handler)
        printed = io.StringIO()
        error = None
        with warnings.catch_warnings(record=True) as raised, \
                contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
            warnings.simplefilter("always")
            try:
                with open(path) as f:
                    config = yaml.safe_load(f)
                config = prepare_config(config)
                provider = _get_node_provider_cls(config["provider"])
                config = provider.fillout_available_node_types_resources(config)
                validate_config(config)
            except Exception as e:  # reported, not hidden
                error = f"{type(e).__name__}: {e}"
        for logger in loggers:
            logger.removeHandler(handler)
        results[path] = {
            "error": error,
            "logged": handler.records,
            "printed": printed.getvalue(),
            "warnings": [f"{w.category.__name__}: {w.message}" for w in raised],
        }
    print(json.dumps(results))


def bootstrap(path, project, region, zone):
    from ray.autoscaler._private.gcp.config import bootstrap_gcp
    from ray.autoscaler._private.util import prepare_config, validate_config

    with open(path) as f:
        config = yaml.safe_load(f)
    config["provider"].update(project_id=project, region=region, availability_zone=zone)
    config = prepare_config(config)
    validate_config(config)
    resolved = bootstrap_gcp(config)
    head = config["head_node_type"]
    print(json.dumps({
        "head_service_accounts": resolved["head_node"].get("serviceAccounts"),
        "ssh_private_key": resolved["auth"].get("ssh_private_key"),
        "network_interfaces": {
            name: t["node_config"].get("networkInterfaces")
            for name, t in resolved["available_node_types"].items()
        },
        "head_node_type": head,
    }))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "validate":
        validate(args)
    else:
        bootstrap(*args)
