"""The registry on SQLite, PostgreSQL and MySQL (SQLAlchemy Core over ``store/db/schema.py``).

Version numbers come from ``registered_models.next_version``, bumped with ``UPDATE ... SET next_version =
next_version + 1`` inside the transaction that inserts the version: the row lock serialises concurrent
registrations across threads, processes and servers sharing one database, so every number is handed out
exactly once and a deleted version's number is never reused. Every alias change and stage transition is
written to ``registry_events`` in the same transaction as the change itself, and so is every webhook
delivery the change causes (``store/webhooks/sql.py``): only committed changes are ever announced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from bakehouse.clock import now_ms
from bakehouse.entities import (
    LoggedModel,
    ModelVersion,
    PagedList,
    RegisteredModel,
    RegisteredModelAlias,
    RegistryEvent,
    Stage,
)
from bakehouse.errors import AlreadyExistsError, InvalidParameterError, NotFoundError
from bakehouse.store.db.engine import ensure_schema, get_engine
from bakehouse.store.db.filters import build_model_version_search, build_registered_model_search
from bakehouse.store.db.schema import (
    logged_models,
    model_version_tags,
    model_versions,
    registered_model_aliases,
    registered_model_tags,
    registered_models,
    registry_events,
)
from bakehouse.store.db.transactions import write_transaction
from bakehouse.store.page_token import decode_page_token, encode_page_token
from bakehouse.store.registry.base import (
    HISTORY_MAX_RESULTS_DEFAULT,
    MODEL_VERSIONS_MAX_RESULTS_DEFAULT,
    MODEL_VERSIONS_MAX_RESULTS_THRESHOLD,
    REGISTERED_MODELS_MAX_RESULTS_DEFAULT,
    REGISTERED_MODELS_MAX_RESULTS_THRESHOLD,
)
from bakehouse.store.registry.uri import parse_models_uri, resolve_model_version
from bakehouse.store.registry.validation import (
    validate_alias,
    validate_alias_not_reserved,
    validate_description,
    validate_max_results,
    validate_model_name,
    validate_tag,
    validate_version,
)
from bakehouse.store.webhooks import payloads as webhook_payloads
from bakehouse.store.webhooks import sql as webhook_outbox

ACTIVE_STAGES = (Stage.STAGING.value, Stage.PRODUCTION.value)

rm, mv = registered_models, model_versions
rmt, mvt, rma, ev = registered_model_tags, model_version_tags, registered_model_aliases, registry_events


def _model_not_found(name: str) -> NotFoundError:
    return NotFoundError(f"Registered Model with name={name} not found")


def _version_not_found(name: str, version: int | str) -> NotFoundError:
    return NotFoundError(f"Model Version (name={name}, version={version}) not found")


class SqlRegistryStore:
    """RegistryStore over one SQL database (usually the same one as the tracking store)."""

    def __init__(
        self,
        engine: Engine,
        logged_model_resolver: Callable[[str], LoggedModel] | None = None,
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        #: ``fn(model_id) -> LoggedModel`` used when a version's source is ``models:/<model_id>`` and the
        #: logged model lives in another database (the server wires its tracking store in here).
        self.logged_model_resolver = logged_model_resolver
        self._webhooks: webhook_outbox.SqlWebhookStore | None = None

    @classmethod
    def from_uri(cls, uri: str, **kwargs: Any) -> SqlRegistryStore:
        engine = get_engine(uri)
        ensure_schema(engine)
        return cls(engine, **kwargs)

    @property
    def webhooks(self) -> webhook_outbox.SqlWebhookStore:
        """MLflow 3's webhook API on the same database."""
        if self._webhooks is None:
            self._webhooks = webhook_outbox.SqlWebhookStore(self.engine)
        return self._webhooks

    # ----------------------------------------------------------------------------------- plumbing
    @contextmanager
    def _write(self) -> Iterator[Any]:
        queued = False
        with write_transaction(self.engine) as conn:
            try:
                yield conn
            finally:
                queued = webhook_outbox.take_enqueued_flag(conn)
        if queued:  # committed: this process's dispatcher can send now
            webhook_outbox.wake()

    def _is_prompt(self, conn: Any, name: str) -> bool:
        value = conn.execute(
            select(rmt.c.value).where(rmt.c.name == name, rmt.c.key == webhook_payloads.PROMPT_TAG)
        ).scalar_one_or_none()
        return webhook_payloads.is_prompt_tags({webhook_payloads.PROMPT_TAG: value or "false"})

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _require_model(self, conn: Any, name: str, lock: bool = False) -> Any:
        query = select(rm).where(rm.c.name == name)
        if lock and self.dialect != "sqlite":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise _model_not_found(name)
        return row

    def _require_version(self, conn: Any, name: str, version: int, lock: bool = False) -> Any:
        query = select(mv).where(mv.c.name == name, mv.c.version == version)
        if lock and self.dialect != "sqlite":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            # MLflow reports a missing model before a missing version
            if conn.execute(select(rm.c.name).where(rm.c.name == name)).first() is None:
                raise _model_not_found(name)
            raise _version_not_found(name, version)
        return row

    def _event(
        self,
        conn: Any,
        name: str,
        kind: str,
        user_id: str | None,
        alias: str | None = None,
        version: int | None = None,
        from_value: str | None = None,
        to_value: str | None = None,
        timestamp: int | None = None,
    ) -> None:
        conn.execute(
            insert(ev).values(
                name=name,
                kind=kind,
                timestamp=timestamp or now_ms(),
                user_id=user_id,
                alias=alias,
                version=version,
                from_value=from_value,
                to_value=to_value,
            )
        )

    def _touch_model(self, conn: Any, name: str, when: int) -> None:
        conn.execute(update(rm).where(rm.c.name == name).values(last_updated_time=when))

    # ----------------------------------------------------------------------------- entity building
    def _versions_from_rows(self, conn: Any, rows: Sequence[Any]) -> list[ModelVersion]:
        if not rows:
            return []
        names = sorted({r.name for r in rows})
        tag_map: dict[tuple[str, int], dict[str, str]] = {}
        alias_map: dict[tuple[str, int], list[str]] = {}
        for chunk in _chunks(names, 500):
            for t in conn.execute(select(mvt).where(mvt.c.name.in_(chunk))):
                tag_map.setdefault((t.name, t.version), {})[t.key] = t.value if t.value is not None else ""
            for a in conn.execute(select(rma).where(rma.c.name.in_(chunk)).order_by(rma.c.alias)):
                alias_map.setdefault((a.name, a.version), []).append(a.alias)
        return [
            ModelVersion(
                name=r.name,
                version=str(r.version),
                creation_timestamp=r.creation_time,
                last_updated_timestamp=r.last_updated_time,
                current_stage=r.current_stage or Stage.NONE.value,
                description=r.description,
                user_id=r.user_id,
                source=r.source,
                run_id=r.run_id,
                run_link=r.run_link,
                status=r.status,
                status_message=r.status_message,
                model_id=r.model_id,
                tags=tag_map.get((r.name, r.version), {}),
                aliases=alias_map.get((r.name, r.version), []),
            )
            for r in rows
        ]

    def _version_entity(self, conn: Any, row: Any) -> ModelVersion:
        return self._versions_from_rows(conn, [row])[0]

    def _latest_rows(self, conn: Any, names: Sequence[str], stages: Sequence[str] | None = None) -> list[Any]:
        """The highest version per (model, stage)."""
        if not names:
            return []
        result: list[Any] = []
        for chunk in _chunks(list(names), 500):
            inner = select(mv.c.name, mv.c.current_stage, func.max(mv.c.version).label("version")).where(
                mv.c.name.in_(chunk)
            )
            if stages is not None:
                inner = inner.where(mv.c.current_stage.in_(list(stages)))
            sub = inner.group_by(mv.c.name, mv.c.current_stage).subquery()
            query = select(mv).join(sub, and_(mv.c.name == sub.c.name, mv.c.version == sub.c.version))
            result.extend(conn.execute(query.order_by(mv.c.name, mv.c.version)).all())
        return result

    def _models_from_rows(self, conn: Any, rows: Sequence[Any]) -> list[RegisteredModel]:
        if not rows:
            return []
        names = [r.name for r in rows]
        tag_map: dict[str, dict[str, str]] = {}
        alias_map: dict[str, list[RegisteredModelAlias]] = {}
        for chunk in _chunks(names, 500):
            for t in conn.execute(select(rmt).where(rmt.c.name.in_(chunk))):
                tag_map.setdefault(t.name, {})[t.key] = t.value if t.value is not None else ""
            for a in conn.execute(select(rma).where(rma.c.name.in_(chunk)).order_by(rma.c.alias)):
                alias_map.setdefault(a.name, []).append(
                    RegisteredModelAlias(alias=a.alias, version=str(a.version))
                )
        latest: dict[str, list[ModelVersion]] = {}
        for version in self._versions_from_rows(conn, self._latest_rows(conn, names)):
            latest.setdefault(version.name, []).append(version)
        return [
            RegisteredModel(
                name=r.name,
                creation_timestamp=r.creation_time,
                last_updated_timestamp=r.last_updated_time,
                description=r.description,
                user_id=r.user_id,
                latest_versions=latest.get(r.name, []),
                tags=tag_map.get(r.name, {}),
                aliases=alias_map.get(r.name, []),
            )
            for r in rows
        ]

    # --------------------------------------------------------------------------- registered models
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        user_id: str | None = None,
    ) -> RegisteredModel:
        validate_model_name(name)
        validate_description(description)
        for key, value in (tags or {}).items():
            validate_tag(key, value)
        now = now_ms()
        try:
            with self._write() as conn:
                conn.execute(
                    insert(rm).values(
                        name=name,
                        creation_time=now,
                        last_updated_time=now,
                        description=description,
                        user_id=user_id,
                        next_version=1,
                    )
                )
                if tags:
                    conn.execute(insert(rmt), [{"name": name, "key": k, "value": v} for k, v in tags.items()])
                webhook_outbox.enqueue(
                    conn, *webhook_payloads.registered_model_created(name, dict(tags or {}), description)
                )
        except IntegrityError:
            raise AlreadyExistsError(f"Registered Model (name={name}) already exists.") from None
        return self.get_registered_model(name)

    def rename_registered_model(
        self, name: str, new_name: str, user_id: str | None = None
    ) -> RegisteredModel:
        validate_model_name(name)
        validate_model_name(new_name, "new_name")
        now = now_ms()
        try:
            with self._write() as conn:
                self._require_model(conn, name, lock=True)
                if name != new_name:
                    if conn.execute(select(rm.c.name).where(rm.c.name == new_name)).first() is not None:
                        raise AlreadyExistsError(f"Registered Model (name={new_name}) already exists.")
                    conn.execute(
                        update(rm).where(rm.c.name == name).values(name=new_name, last_updated_time=now)
                    )
                    for table in (rmt, rma, mv, mvt, ev):
                        conn.execute(update(table).where(table.c.name == name).values(name=new_name))
                    self._event(
                        conn, new_name, "renamed", user_id, from_value=name, to_value=new_name, timestamp=now
                    )
        except IntegrityError:
            raise AlreadyExistsError(f"Registered Model (name={new_name}) already exists.") from None
        return self.get_registered_model(new_name)

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        validate_model_name(name)
        validate_description(description)
        with self._write() as conn:
            self._require_model(conn, name)
            conn.execute(
                update(rm)
                .where(rm.c.name == name)
                .values(description=description, last_updated_time=now_ms())
            )
        return self.get_registered_model(name)

    def delete_registered_model(self, name: str) -> None:
        """Hard delete with every version, tag and alias; the audit trail is kept."""
        validate_model_name(name)
        with self._write() as conn:
            self._require_model(conn, name, lock=True)
            for table in (mvt, mv, rma, rmt, rm):
                conn.execute(delete(table).where(table.c.name == name))

    def get_registered_model(self, name: str) -> RegisteredModel:
        validate_model_name(name)
        with self._read() as conn:
            row = self._require_model(conn, name)
            return self._models_from_rows(conn, [row])[0]

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = REGISTERED_MODELS_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        if max_results is None:
            max_results = REGISTERED_MODELS_MAX_RESULTS_DEFAULT
        validate_max_results(max_results, REGISTERED_MODELS_MAX_RESULTS_THRESHOLD)
        offset = decode_page_token(page_token)
        query = build_registered_model_search(filter_string, order_by, offset, max_results + 1)
        with self._read() as conn:
            names = [r[0] for r in conn.execute(query)]
            by_name = {r.name: r for r in conn.execute(select(rm).where(rm.c.name.in_(names[:max_results])))}
            rows = [by_name[n] for n in names[:max_results] if n in by_name]
            models = self._models_from_rows(conn, rows)
        token = encode_page_token(offset + max_results) if len(names) > max_results else ""
        return PagedList(models, token)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        validate_model_name(name)
        wanted = [Stage.parse(s).value for s in stages] if stages else None
        with self._read() as conn:
            self._require_model(conn, name)
            rows = self._latest_rows(conn, [name], wanted)
            versions = self._versions_from_rows(conn, rows)
        if wanted is None:
            return versions
        by_stage = {v.current_stage: v for v in versions}
        return [by_stage[s] for s in dict.fromkeys(wanted) if s in by_stage]

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        validate_model_name(name)
        validate_tag(key, value)
        with self._write() as conn:
            self._require_model(conn, name, lock=True)  # serialises concurrent upserts of one tag
            _upsert_tag(conn, rmt, {"name": name, "key": key}, value)
            if self._is_prompt(conn, name):
                webhook_outbox.enqueue(conn, *webhook_payloads.prompt_tag(name, key, value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """A missing tag is not an error (MLflow answers 200)."""
        validate_model_name(name)
        validate_tag(key)
        with self._write() as conn:
            self._require_model(conn, name)
            conn.execute(delete(rmt).where(rmt.c.name == name, rmt.c.key == key))
            if self._is_prompt(conn, name):
                webhook_outbox.enqueue(conn, *webhook_payloads.prompt_tag(name, key, None))

    # ------------------------------------------------------------------------------ model versions
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        user_id: str | None = None,
    ) -> ModelVersion:
        validate_model_name(name)
        if not source:
            raise InvalidParameterError(
                "Missing value for required parameter 'source'. "
                "See the API docs for more information about request parameters."
            )
        validate_description(description)
        for key, value in (tags or {}).items():
            validate_tag(key, value)
        storage_location, run_id, model_id = self._resolve_source(source, run_id, model_id)
        now = now_ms()
        with self._write() as conn:
            bumped = conn.execute(
                update(rm)
                .where(rm.c.name == name)
                .values(next_version=rm.c.next_version + 1, last_updated_time=now)
            )
            if bumped.rowcount == 0:
                raise _model_not_found(name)
            version = conn.execute(select(rm.c.next_version).where(rm.c.name == name)).scalar_one() - 1
            conn.execute(
                insert(mv).values(
                    name=name,
                    version=version,
                    creation_time=now,
                    last_updated_time=now,
                    description=description,
                    user_id=user_id,
                    current_stage=Stage.NONE.value,
                    source=source,
                    storage_location=storage_location,
                    run_id=run_id or None,
                    run_link=run_link or None,
                    model_id=model_id or None,
                    status="READY",
                )
            )
            if tags:
                conn.execute(
                    insert(mvt),
                    [{"name": name, "version": version, "key": k, "value": v} for k, v in tags.items()],
                )
            webhook_outbox.enqueue(
                conn,
                *webhook_payloads.model_version_created(
                    name, str(version), source, run_id, dict(tags or {}), description
                ),
            )
            row = self._require_version(conn, name, version)
            return self._version_entity(conn, row)

    def _resolve_source(
        self, source: str, run_id: str | None, model_id: str | None
    ) -> tuple[str, str | None, str | None]:
        """Where the files really are: ``models:/<model_id>`` points at a logged model's artifacts,
        ``models:/<name>/<version>`` at another version's."""
        if not source.startswith("models:"):
            return source, run_id, model_id
        parsed = parse_models_uri(source)
        if parsed.model_id is not None:
            model_id = model_id or parsed.model_id
            location, source_run = self._logged_model_location(parsed.model_id)
            return location or source, run_id or source_run, model_id
        target = resolve_model_version(self, source)  # another version: pin it, as MLflow does
        location = self.get_model_version_download_uri(target.name, target.version)
        return location, run_id or target.run_id, model_id or target.model_id

    def _logged_model_location(self, model_id: str) -> tuple[str | None, str | None]:
        with self._read() as conn:
            row = conn.execute(
                select(logged_models.c.artifact_location, logged_models.c.source_run_id).where(
                    logged_models.c.model_id == model_id
                )
            ).first()
        if row is not None:
            return row.artifact_location, row.source_run_id
        if self.logged_model_resolver is not None:
            model = self.logged_model_resolver(model_id)
            return model.artifact_location, model.source_run_id
        raise InvalidParameterError(
            f"Unable to fetch model from model URI source artifact location 'models:/{model_id}'. "
            f"Error: Logged model with ID '{model_id}' not found."
        )

    def update_model_version(self, name: str, version: str | int, description: str | None) -> ModelVersion:
        validate_model_name(name)
        number = validate_version(version)
        validate_description(description)
        now = now_ms()
        with self._write() as conn:
            self._require_version(conn, name, number)
            if description is not None:
                conn.execute(
                    update(mv)
                    .where(mv.c.name == name, mv.c.version == number)
                    .values(description=description, last_updated_time=now)
                )
            row = self._require_version(conn, name, number)
            return self._version_entity(conn, row)

    def transition_model_version_stage(
        self,
        name: str,
        version: str | int,
        stage: str,
        archive_existing_versions: bool = False,
        user_id: str | None = None,
    ) -> ModelVersion:
        validate_model_name(name)
        number = validate_version(version)
        target = Stage.parse(stage).value
        if archive_existing_versions and target not in ACTIVE_STAGES:
            raise InvalidParameterError(
                "Model version transition cannot archive existing model versions because "
                f"'{stage}' is not an Active stage. Valid stages are {list(ACTIVE_STAGES)}"
            )
        now = now_ms()
        with self._write() as conn:
            current = self._require_version(conn, name, number, lock=True)
            if archive_existing_versions:
                others = (
                    conn.execute(
                        select(mv.c.version).where(
                            mv.c.name == name, mv.c.version != number, mv.c.current_stage == target
                        )
                    )
                    .scalars()
                    .all()
                )
                if others:
                    conn.execute(
                        update(mv)
                        .where(mv.c.name == name, mv.c.version.in_(others))
                        .values(current_stage=Stage.ARCHIVED.value, last_updated_time=now)
                    )
                    for other in sorted(others):
                        self._event(
                            conn,
                            name,
                            "stage_transition",
                            user_id,
                            version=other,
                            from_value=target,
                            to_value=Stage.ARCHIVED.value,
                            timestamp=now,
                        )
            conn.execute(
                update(mv)
                .where(mv.c.name == name, mv.c.version == number)
                .values(current_stage=target, last_updated_time=now)
            )
            self._touch_model(conn, name, now)
            self._event(
                conn,
                name,
                "stage_transition",
                user_id,
                version=number,
                from_value=current.current_stage,
                to_value=target,
                timestamp=now,
            )
            row = self._require_version(conn, name, number)
            return self._version_entity(conn, row)

    def delete_model_version(self, name: str, version: str | int, user_id: str | None = None) -> None:
        """Drops the version, its tags and every alias pointing at it (each recorded in the trail)."""
        validate_model_name(name)
        number = validate_version(version)
        now = now_ms()
        with self._write() as conn:
            self._require_version(conn, name, number, lock=True)
            for alias in (
                conn.execute(select(rma.c.alias).where(rma.c.name == name, rma.c.version == number))
                .scalars()
                .all()
            ):
                self._event(
                    conn,
                    name,
                    "alias_deleted",
                    user_id,
                    alias=alias,
                    version=number,
                    from_value=str(number),
                    to_value=None,
                    timestamp=now,
                )
            conn.execute(delete(rma).where(rma.c.name == name, rma.c.version == number))
            conn.execute(delete(mvt).where(mvt.c.name == name, mvt.c.version == number))
            conn.execute(delete(mv).where(mv.c.name == name, mv.c.version == number))
            self._touch_model(conn, name, now)

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        validate_model_name(name)
        number = validate_version(version)
        with self._read() as conn:
            row = self._require_version(conn, name, number)
            return self._version_entity(conn, row)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        validate_model_name(name)
        number = validate_version(version)
        with self._read() as conn:
            row = self._require_version(conn, name, number)
            return str(row.storage_location or row.source)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = MODEL_VERSIONS_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        if max_results is None:
            max_results = MODEL_VERSIONS_MAX_RESULTS_DEFAULT
        validate_max_results(max_results, MODEL_VERSIONS_MAX_RESULTS_THRESHOLD)
        offset = decode_page_token(page_token)
        query = build_model_version_search(filter_string, order_by, offset, max_results + 1)
        with self._read() as conn:
            keys = [(r[0], int(r[1])) for r in conn.execute(query)]
            page = keys[:max_results]
            by_key: dict[tuple[str, int], Any] = {}
            for chunk_names in _chunks(sorted({n for n, _ in page}), 500):
                for r in conn.execute(select(mv).where(mv.c.name.in_(chunk_names))):
                    by_key[(r.name, r.version)] = r
            rows = [by_key[k] for k in page if k in by_key]
            versions = self._versions_from_rows(conn, rows)
        token = encode_page_token(offset + max_results) if len(keys) > max_results else ""
        return PagedList(versions, token)

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: str) -> None:
        validate_model_name(name)
        number = validate_version(version)
        validate_tag(key, value)
        with self._write() as conn:
            self._require_version(conn, name, number, lock=True)  # serialises concurrent upserts
            _upsert_tag(conn, mvt, {"name": name, "version": number, "key": key}, value)
            webhook_outbox.enqueue(
                conn,
                *webhook_payloads.version_tag(self._is_prompt(conn, name), name, str(number), key, value),
            )

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        validate_model_name(name)
        number = validate_version(version)
        validate_tag(key)
        with self._write() as conn:
            self._require_version(conn, name, number)
            conn.execute(delete(mvt).where(mvt.c.name == name, mvt.c.version == number, mvt.c.key == key))
            webhook_outbox.enqueue(
                conn, *webhook_payloads.version_tag(self._is_prompt(conn, name), name, str(number), key, None)
            )

    # ------------------------------------------------------------------------------------- aliases
    def set_registered_model_alias(
        self, name: str, alias: str, version: str | int, user_id: str | None = None
    ) -> None:
        """Create or move an alias: one statement in one transaction, so readers see old or new, never neither."""
        validate_model_name(name)
        validate_alias(alias)
        validate_alias_not_reserved(alias)
        number = validate_version(version)
        now = now_ms()
        with self._write() as conn:
            self._require_model(conn, name, lock=True)
            self._require_version(conn, name, number)
            previous = conn.execute(
                select(rma.c.version).where(rma.c.name == name, rma.c.alias == alias)
            ).scalar_one_or_none()
            if previous is None:
                conn.execute(insert(rma).values(name=name, alias=alias, version=number))
            elif previous != number:
                conn.execute(
                    update(rma).where(rma.c.name == name, rma.c.alias == alias).values(version=number)
                )
            if previous != number:
                self._event(
                    conn,
                    name,
                    "alias_set",
                    user_id,
                    alias=alias,
                    version=number,
                    from_value=None if previous is None else str(previous),
                    to_value=str(number),
                    timestamp=now,
                )
            webhook_outbox.enqueue(
                conn, *webhook_payloads.alias(self._is_prompt(conn, name), name, alias, str(number))
            )

    def delete_registered_model_alias(self, name: str, alias: str, user_id: str | None = None) -> None:
        validate_model_name(name)
        validate_alias(alias)
        with self._write() as conn:
            self._require_model(conn, name)
            previous = conn.execute(
                select(rma.c.version).where(rma.c.name == name, rma.c.alias == alias)
            ).scalar_one_or_none()
            if previous is not None:
                conn.execute(delete(rma).where(rma.c.name == name, rma.c.alias == alias))
                self._event(
                    conn,
                    name,
                    "alias_deleted",
                    user_id,
                    alias=alias,
                    version=previous,
                    from_value=str(previous),
                    to_value=None,
                )
            webhook_outbox.enqueue(
                conn, *webhook_payloads.alias(self._is_prompt(conn, name), name, alias, None)
            )

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        validate_model_name(name)
        validate_alias(alias)
        with self._read() as conn:
            self._require_model(conn, name)
            if alias.lower() == "latest":
                number = conn.execute(select(func.max(mv.c.version)).where(mv.c.name == name)).scalar()
                if number is None:
                    raise NotFoundError(f"Latest version not found for model {name}.")
            else:
                number = conn.execute(
                    select(rma.c.version).where(rma.c.name == name, rma.c.alias == alias)
                ).scalar_one_or_none()
                if number is None:
                    raise InvalidParameterError(f"Registered model alias {alias} not found.")
            row = self._require_version(conn, name, number)
            return self._version_entity(conn, row)

    # ------------------------------------------------------------------------------- audit trail
    def get_registry_history(
        self, name: str, max_results: int = HISTORY_MAX_RESULTS_DEFAULT
    ) -> list[RegistryEvent]:
        """Oldest first. Kept after a model is deleted: "what was in Production last Tuesday" still answers."""
        validate_model_name(name)
        with self._read() as conn:
            rows = conn.execute(
                select(ev).where(ev.c.name == name).order_by(ev.c.event_id.desc()).limit(max_results)
            ).all()
        return [
            RegistryEvent(
                name=r.name,
                kind=r.kind,
                timestamp=r.timestamp,
                user_id=r.user_id,
                alias=r.alias,
                version=None if r.version is None else str(r.version),
                from_value=r.from_value,
                to_value=r.to_value,
            )
            for r in reversed(rows)
        ]


# ------------------------------------------------------------------------------------------ helpers


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _upsert_tag(conn: Any, table: Any, key_values: dict[str, Any], value: str) -> None:
    where = [table.c[k] == v for k, v in key_values.items()]
    if conn.execute(update(table).where(*where).values(value=value)).rowcount == 0:
        conn.execute(insert(table).values(**key_values, value=value))
