"""``custodian export`` files read back in Python: the Parquet a research
team loads with pandas (through pyarrow) and polars holds the rows of the
NDJSON export of the same query, with typed columns."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx
import pandas as pd
import polars as pl
import pyarrow.parquet as pq

from .conftest import Server


def export(server: Server, out: Path, *args: str) -> None:
    demo = Path(server.database_url.removeprefix("sqlite://")).parent
    env = {**os.environ, "CUSTODIAN_PEPPER_FILE": str(demo / "pepper")}
    subprocess.run(
        [str(server.bin), "--database-url", server.database_url, "export", *args, "--out", str(out)],
        check=True,
        capture_output=True,
        env=env,
    )


def test_a_raw_parquet_export_has_typed_columns_and_the_ndjson_rows(server: Server, tmp_path: Path) -> None:
    parquet, ndjson = tmp_path / "j.parquet", tmp_path / "j.ndjson"
    export(server, parquet, "analytics", "patient_journeys", "--format", "parquet")
    export(server, ndjson, "analytics", "patient_journeys", "--format", "ndjson")
    rows = [json.loads(line) for line in ndjson.read_text().splitlines()]
    assert len(rows) >= 400

    schema = pq.read_schema(parquet)
    assert str(schema.field("created_at").type) == "timestamp[us, tz=UTC]"
    assert str(schema.field("data_lag_hours").type) == "int64"
    assert str(schema.field("source_stacking_flag").type) == "bool"
    assert str(schema.field("patient_id").type) == "string"

    df = pd.read_parquet(parquet)
    assert list(df.columns) == list(rows[0].keys())
    assert len(df) == len(rows)
    assert str(df["created_at"].dtype) == "datetime64[us, UTC]"
    assert list(df["id"]) == [r["id"] for r in rows]
    assert list(df["patient_id"]) == [r["patient_id"] for r in rows]
    assert [ts.isoformat().replace("+00:00", "Z") for ts in df["created_at"]] == [
        pd.Timestamp(r["created_at"]).isoformat().replace("+00:00", "Z") for r in rows
    ]

    lf = pl.read_parquet(parquet)
    assert lf.height == len(rows)
    assert lf["split_assignment"].to_list() == [r["split_assignment"] for r in rows]


def test_a_safe_harbor_parquet_export_holds_no_stored_id_and_years_for_dates(server: Server, tmp_path: Path) -> None:
    parquet = tmp_path / "sh.parquet"
    export(server, parquet, "analytics", "patient_journeys", "--format", "parquet", "--profile", "safe_harbor")
    df = pd.read_parquet(parquet)
    stored = httpx.get(
        f"{server.base_url}/v1/analytics/patient_journeys?limit=1000",
        headers={"Authorization": f"Bearer {server.admin_key}"},
    ).json()["items"]
    assert set(df["patient_id"]).isdisjoint({r["patient_id"] for r in stored})
    assert all(p.startswith("ex_") for p in df["patient_id"])
    assert str(df["created_at"].dtype) == "int64"
    assert df["created_at"].between(2000, 2100).all()
