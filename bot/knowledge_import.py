"""`python -m bot.knowledge_import FILE` (`make kb-import`): load knowledge-base entries from a
YAML file (format: data/knowledge_seed.yml) into the database of a running system, as drafts
marked "cần cán bộ duyệt". Run again, it adds what is new and refreshes the drafts it made;
nothing staff edited or published is touched."""
from __future__ import annotations

import sys
from pathlib import Path

import yaml
from pymongo.errors import PyMongoError

from bot import knowledge_entries
from bot.config import Settings, load_env_file
from bot.repository import Repository


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m bot.knowledge_import FILE.yml", file=sys.stderr)
        return 2
    path = Path(argv[0])
    items = yaml.safe_load(path.read_text(encoding="utf-8"))
    load_env_file()
    repository = Repository(Settings.from_env().database_uri, server_timeout_ms=3000)
    try:
        repository.ensure_indexes()
        done = knowledge_entries.load(repository, items)
        repository.audit_log("hệ thống", "kb.import", path.name, None, done)
    except PyMongoError as exc:
        print(f"the database does not answer ({exc.__class__.__name__}): start the app first (make run)", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"{path}: {exc}", file=sys.stderr)
        return 1
    finally:
        repository.close()
    print(f"{path.name}: {done['added']} entries added, {done['updated']} drafts updated, "
          f"{done['kept']} kept as staff left them; all wait for review in the console (Kho hỏi đáp)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
