"""Entity-resolution quality against the synthetic generator's ground truth.

Every delivered row the pipeline kept ends in exactly one of ``entity.fct_entity_event``
(linked to an entity, with its ``resolution_method``) or ``entity.rpt_unresolved_records``.
Both carry the row's provenance; the ground truth (``ground_truth/records.parquet``) names
the entity each delivered row belongs to. They are joined on
``(feed, basename(source_file), source_row)``.

Definitions (rows of the registration feed are the register itself and are left out of
``overall``; they appear under ``per_feed``):

- a *link* is a row in fct_entity_event; it is *correct* when its entity is the row's true
  entity. precision = correct links / links.
- a row *belongs to a registered entity* when its true entity is in ``entity.dim_entity``.
  recall = correct links / rows that belong to a registered entity.
- rows whose true entity is not in the register (its registration row was rejected) and rows
  with no true entity (unlicensed vendors; natural persons on the court's list, whose
  ``related_entity_id`` is the business they run) are not in the recall denominator; any link
  made for them is a wrong link. A natural person is not the business he runs: the court
  record of a person belongs to the person, and the relation to the business is a
  relationship, not an identity.
- rows the pipeline never resolved (quarantined at extraction, or merged as exact duplicates of
  another row in staging) are counted under ``not_reaching_resolution``, outside both ratios.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

_BASENAME = r"regexp_extract({col}, '[^/]*$')"


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 6) if den else None


def _metrics(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "rows": row["rows"],
        "links": row["links"],
        "correct_links": row["correct"],
        "wrong_links": row["links"] - row["correct"],
        "belongs_to_registered": row["registered"],
        "missed": row["registered"] - row["correct_registered"],
        "precision": _ratio(row["correct"], row["links"]),
        "recall": _ratio(row["correct_registered"], row["registered"]),
    }


def score(serving_or_candidate_db: Path, ground_truth_dir: Path) -> dict[str, Any]:
    """Precision and recall of entity resolution, overall, per feed, per resolution method and
    per step (identifier / probabilistic), and what the review queue holds."""
    import duckdb

    db, truth = Path(serving_or_candidate_db), Path(ground_truth_dir) / "records.parquet"
    if not db.exists():
        raise FileNotFoundError(f"DuckDB file not found: {db}")
    if not truth.exists():
        raise FileNotFoundError(f"ground truth not found: {truth}")
    con = duckdb.connect(str(db), read_only=True)
    try:
        unresolved_cols = {
            r[0]
            for r in con.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'entity' and table_name = 'rpt_unresolved_records'"
            ).fetchall()
        }
        review_col = (
            "review_candidate_entity_id"
            if "review_candidate_entity_id" in unresolved_cols
            else "cast(null as varchar)"
        )
        con.execute(
            f"""
            create temp table scored as
            with truth as (
                select feed, {_BASENAME.format(col="source_file")} as file, source_row,
                    true_entity_id, related_entity_id
                from read_parquet('{truth}')
            ),
            links as (
                select any_value(feed) as feed,
                    any_value({_BASENAME.format(col="source_file")}) as file,
                    any_value(source_row) as source_row,
                    any_value(entity_id) as entity_id,
                    any_value(resolution_method) as resolution_method
                from entity.fct_entity_event
                -- a person's court record on the timeline of the business it runs is a
                -- relationship (fct_entity_relationship), not a link of the record
                where event_type <> 'legal_rep_court_dishonest'
                group by record_id
            ),
            unresolved as (
                select feed, {_BASENAME.format(col="source_file")} as file, source_row,
                    unresolved_reason, {review_col} as review_candidate_entity_id
                from entity.rpt_unresolved_records
            ),
            register as (select entity_id from entity.dim_entity)
            select
                t.feed,
                t.true_entity_id,
                t.related_entity_id,
                r.entity_id is not null as true_registered,
                l.entity_id,
                l.resolution_method,
                u.unresolved_reason,
                u.review_candidate_entity_id,
                case
                    when l.entity_id is not null then 'linked'
                    when u.unresolved_reason is not null then 'unresolved'
                    else 'absent'
                end as outcome
            from truth as t
            left join register as r on r.entity_id = t.true_entity_id
            left join links as l using (feed, file, source_row)
            left join unresolved as u using (feed, file, source_row)
            """
        )
        agg = """
            count(*) filter (where outcome <> 'absent') as rows,
            count(*) filter (where outcome = 'linked') as links,
            count(*) filter (where outcome = 'linked' and entity_id = true_entity_id) as correct,
            count(*) filter (where outcome <> 'absent' and true_registered) as registered,
            count(*) filter (
                where outcome = 'linked' and entity_id = true_entity_id and true_registered
            ) as correct_registered
        """

        def rows(sql: str) -> list[dict[str, Any]]:
            cur = con.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]

        overall = rows(f"select {agg} from scored where feed <> 'registration__amr'")[0]
        per_feed = {
            r["feed"]: _metrics(r) for r in rows(f"select feed, {agg} from scored group by feed")
        }
        recall_den = overall["registered"]
        per_method: dict[str, Any] = {}
        for r in rows(
            "select resolution_method, count(*) as links, "
            "count(*) filter (where entity_id = true_entity_id) as correct "
            "from scored where outcome = 'linked' and feed <> 'registration__amr' "
            "group by resolution_method"
        ):
            per_method[r["resolution_method"]] = {
                "links": r["links"],
                "correct_links": r["correct"],
                "precision": _ratio(r["correct"], r["links"]),
                "share_of_recall": _ratio(r["correct"], recall_den),
            }
        per_step: dict[str, Any] = {}
        for step in ("identifier", "probabilistic"):
            ms = [
                v
                for k, v in per_method.items()
                if (k == "probabilistic") == (step == "probabilistic")
            ]
            links = sum(m["links"] for m in ms)
            correct = sum(m["correct_links"] for m in ms)
            per_step[step] = {
                "links": links,
                "correct_links": correct,
                "precision": _ratio(correct, links),
                "share_of_recall": _ratio(correct, recall_den),
            }
        complaint_links = rows(
            "select resolution_method, count(*) as n from scored "
            "where outcome = 'linked' and feed like 'complaint%' group by all"
        )
        review = rows(
            "select count(*) as rows, "
            "count(*) filter (where review_candidate_entity_id = true_entity_id) "
            "as right_candidate, "
            "count(*) filter (where true_entity_id is null or not true_registered) "
            "as outside_register "
            "from scored where review_candidate_entity_id is not null"
        )[0]
        persons = rows(
            "select count(*) as rows, count(*) filter (where outcome = 'linked') as linked, "
            "count(*) filter (where outcome = 'linked' and entity_id = related_entity_id) "
            "as linked_to_their_business "
            "from scored where true_entity_id is null and related_entity_id is not null"
        )[0]
        persons["related_to_their_business"] = _related_to_business(con, truth)
        outside = rows(
            "select count(*) filter (where true_entity_id is null and related_entity_id is null) "
            "as unregistered_parties, "
            "count(*) filter (where true_entity_id is not null and not true_registered) "
            "as entity_not_in_register, "
            "count(*) filter (where (true_entity_id is null or not true_registered) "
            "and outcome = 'linked') as linked "
            "from scored where outcome <> 'absent' and related_entity_id is null"
        )[0]
        absent = rows(
            "select feed, count(*) as n from scored where outcome = 'absent' "
            "group by feed order by feed"
        )
    finally:
        con.close()
    return {
        "overall": _metrics(overall),
        "per_feed": per_feed,
        "per_method": per_method,
        "per_step": per_step,
        "complaint_links_by_method": {r["resolution_method"]: r["n"] for r in complaint_links},
        "review": review,
        "natural_persons": persons,
        "outside_register": outside,
        "not_reaching_resolution": {r["feed"]: r["n"] for r in absent},
    }


def _related_to_business(con: Any, truth: Path) -> int | None:
    """Natural persons' court records related (fct_entity_relationship, a debtor link) to the
    very business the ground truth says they run; None before that table existed."""
    has = con.execute(
        "select count(*) from information_schema.columns where table_schema = 'entity' "
        "and table_name = 'fct_entity_relationship' and column_name = 'source_row'"
    ).fetchone()[0]
    if not has:
        return None
    return con.execute(
        f"""
        select count(distinct (t.source_file, t.source_row))
        from read_parquet('{truth}') as t
        inner join entity.fct_entity_relationship as rel
            on rel.source_feed = t.feed
            and {_BASENAME.format(col="rel.source_file")} = {_BASENAME.format(col="t.source_file")}
            and rel.source_row = t.source_row
            and rel.entity_id_a = t.related_entity_id
        where t.true_entity_id is null and t.related_entity_id is not null
        """
    ).fetchone()[0]
