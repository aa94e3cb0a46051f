"""``doodle-party``: one command line for every role of the product.

    doodle-party serve       run a gateway (WebSocket + HTTP on one port)
    doodle-party worker      run a recognition worker fed from Redis
    doodle-party train       train the doodle model
    doodle-party evaluate    compare models on held-out drawings
    doodle-party rule        choose a checkpoint's decision rule on validation drawings
    doodle-party bots        load-test a running server with replaying bots
    doodle-party data download   fetch the official Quick, Draw! files
    doodle-party data import-tfjs   import a TensorFlow.js model (the DoodleNet teacher)
    doodle-party data export-onnx   write a checkpoint's network for ONNX Runtime (served when beside it)
    doodle-party archive ...     manage the archive of consented drawings
    doodle-party contract    write docs/asyncapi.json, the protocol as an AsyncAPI document

Subcommands that live in other modules expose ``configure_parser(parser)`` and ``run(args) -> int``;
they are imported only when chosen, so ``serve`` does not pay for training code and vice versa.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import importlib
import sys
from collections.abc import Sequence

from server.config import add_server_flags, settings_from_args
from server.logs import configure_logging
from server.redis_embedded import RedisUnavailable
from server.runtime import event_loop_factory

# subcommand -> (module, help); the module provides configure_parser() and run().
DELEGATED = {
    "worker": ("server.worker", "run a recognition worker that takes jobs from Redis"),
    "train": ("inference.train", "train the doodle model"),
    "evaluate": ("inference.evaluate", "evaluate models on held-out drawings"),
    "rule": ("inference.sweep", "choose a model's decision rule on replayed validation drawings"),
    "bots": ("server.bots", "load-test a server with bots that replay real drawings"),
    "archive": ("server.archive", "manage the archive of consented drawings"),
    "contract": ("server.contract", "write (or --check) the AsyncAPI document of the wire protocol"),
}
DATA_COMMANDS = {
    "download": ("inference.download", "download official Quick, Draw! files"),
    "import-tfjs": ("inference.tfjs", "import a TensorFlow.js layers model (DoodleNet) as a checkpoint"),
    "export-onnx": ("inference.ort", "write a checkpoint's network as an ONNX graph for ONNX Runtime"),
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="doodle-party", description="One command line for every role of Doodle Party."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="run a gateway: WebSocket, /healthz, /metrics and the web client")
    add_server_flags(serve)
    chosen = argv[0] if argv else None
    for name, (module, help_text) in DELEGATED.items():
        command = sub.add_parser(name, help=help_text)
        if name == chosen:
            importlib.import_module(module).configure_parser(command)
            command.set_defaults(module=module)
    data = sub.add_parser("data", help="work with the official data set")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    for name, (module, help_text) in DATA_COMMANDS.items():
        command = data_sub.add_parser(name, help=help_text)
        if chosen == "data" and len(argv) > 1 and argv[1] == name:
            importlib.import_module(module).configure_parser(command)
            command.set_defaults(module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if args.command == "serve":
        # Imported here, like the delegated commands: a worker's process must not carry (and export
        # the metrics of) a gateway.
        from inference.ort import OnnxUnavailable
        from server.app import PortInUse, RedisLost, serve_forever

        settings = settings_from_args(args)
        configure_logging(settings.log_level, settings.log_format)
        try:
            with asyncio.Runner(loop_factory=event_loop_factory(settings.event_loop)) as runner:
                runner.run(serve_forever(settings))
        except KeyboardInterrupt:
            pass
        except (PortInUse, RedisLost, RedisUnavailable, OnnxUnavailable) as exc:  # the operator's: one line
            print(f"doodle-party: {exc.strerror if isinstance(exc, OSError) else exc}", file=sys.stderr)
            return 1
        except OSError as exc:  # the port was taken after check_port_free looked
            if exc.errno != errno.EADDRINUSE:
                raise
            print(
                f"doodle-party: port {settings.port} is in use; choose another with --port N, "
                f"DOODLE_PORT=N or `make serve PORT=N`",
                file=sys.stderr,
            )
            return 1
        return 0
    module = getattr(args, "module", None)
    if module is None:
        parser.error("choose a subcommand")
    configure_logging(getattr(args, "log_level", None) or "info", "auto")
    return int(importlib.import_module(module).run(args))


if __name__ == "__main__":
    sys.exit(main())
