"""On-disk cache of derived data that every run on the same inputs rebuilds the same way.

The ZIP table of the ``zipcodes`` package, the lower-48 state outlines and the default ZIP areas (Voronoi cells of
STANDARD ZIP centroids) with their rook adjacency take seconds to build at state scale and tens of seconds for the
whole country, yet depend only on the states and on the code and packages that build them. Each is kept as one
``.npz`` file in :func:`territory_geo.settings.cache_dir` (``$TERRITORY_GEO_CACHE``, default
``.territory_geo/cache``).

An entry is named by a digest of its key: what it is (``kind`` and the caller's key, e.g. the states), the
cache's format (:data:`CACHE_VERSION`), the source of the modules that build it and the versions of the packages
that shape the result (numpy, pandas, shapely and GEOS, pyproj and PROJ, ...). The key is also stored inside the
file and checked on reading. Entries hold plain arrays only (text, numbers, WKB bytes): nothing is unpickled.
They are written to a temporary file beside the entry and renamed into place, so a reader never sees half an entry.
A missing, truncated, corrupt or unreadable entry is ignored and built again, and a cache folder that cannot be
written only means nothing is kept: the cache never changes a result and never fails a run.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import tempfile
from collections.abc import Callable, Mapping
from contextlib import suppress
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd

from territory_geo.settings import cache_dir

if TYPE_CHECKING:
    import geopandas as gpd

#: Format of the entries; bump it when what an entry holds changes.
CACHE_VERSION = "1"

T = TypeVar("T")
Arrays = dict[str, np.ndarray]

_KEY = "_key"


@functools.cache
def package_version(name: str) -> str:
    """Installed version of a distribution (``"absent"`` when it is not installed)."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "absent"


@functools.cache
def _source_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def source_digest(*files: str) -> str:
    """Digest of the source ``files`` that build an entry, and of this module's: an entry built or stored by other
    code is another entry."""
    return "-".join(_source_digest(str(Path(f).resolve())) for f in (__file__, *files))


def entry_path(kind: str, key: Mapping[str, object]) -> Path | None:
    """Where the entry of ``kind`` with ``key`` is kept (None when the cache is off)."""
    folder = cache_dir()
    if folder is None:
        return None
    digest = hashlib.sha256(_key_text(kind, key).encode()).hexdigest()[:24]
    return folder / f"{kind}-{digest}.npz"


def _key_text(kind: str, key: Mapping[str, object]) -> str:
    return json.dumps({"kind": kind, "format": CACHE_VERSION, **key}, sort_keys=True, default=str)


def read(kind: str, key: Mapping[str, object]) -> Arrays | None:
    """The arrays of the entry, or None when it is absent, unreadable, or holds another key."""
    path = entry_path(kind, key)
    if path is None or not path.is_file():
        return None
    try:
        with path.open("rb") as stream, np.load(stream, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except Exception:  # noqa: BLE001  (a truncated or corrupt entry is built again, whatever numpy or zipfile raise)
        return None
    if _KEY not in arrays or str(arrays.pop(_KEY)) != _key_text(kind, key):
        return None
    return arrays


def write(kind: str, key: Mapping[str, object], arrays: Mapping[str, np.ndarray]) -> None:
    """Keep ``arrays`` as the entry of ``kind`` with ``key``: written beside it, then renamed into place. A folder
    that cannot be written leaves the cache as it was."""
    path = entry_path(kind, key)
    if path is None:
        return
    temp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **{_KEY: np.array(_key_text(kind, key))}, **arrays)
        os.replace(temp, path)
        temp = None
    except OSError:
        pass  # read-only or full: nothing is kept
    finally:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)


def cached(kind: str, key: Mapping[str, object], build: Callable[[], T], encode: Callable[[T], Arrays | None],
           decode: Callable[[Arrays], T]) -> T:
    """The value of the entry (``decode`` of its arrays), else ``build()``, kept when ``encode`` can hold it exactly
    (``encode`` returns None when it cannot)."""
    stored = read(kind, key)
    if stored is not None:
        with suppress(Exception):  # arrays that do not make a value (an entry from a broken write): built again
            return decode(stored)
    value = build()
    arrays = encode(value)
    if arrays is not None:
        write(kind, key, arrays)
    return value


def common_key(geometry: bool = False) -> dict[str, str]:
    """The package versions an entry depends on: those of its arrays' types, and with ``geometry`` those that read,
    project and cut geometries."""
    versions = {name: package_version(name) for name in ("numpy", "pandas")}
    if not geometry:
        return versions
    import pyproj
    import shapely

    versions |= {name: package_version(name) for name in ("shapely", "geopandas", "pyogrio", "pyproj")}
    return versions | {"geos": shapely.geos_version_string, "proj": pyproj.proj_version_str}


# --- frames and geometries as plain arrays -------------------------------------------------------------------------


def frame_arrays(frame: pd.DataFrame) -> Arrays | None:
    """A frame of text and float columns with a text index as arrays; None for anything they would not give back
    exactly (other dtypes, missing text)."""
    if frame.index.name is None or len(set(map(str, frame.columns))) != len(frame.columns):
        return None
    arrays: Arrays = {"_index_name": np.array(frame.index.name), "_columns": np.array(list(map(str, frame.columns)))}
    parts = [("_index", frame.index.to_series())] + [(f"col:{name}", frame[name]) for name in frame.columns]
    text = pd.Series(["text"]).dtype  # what a list of str becomes again
    for name, values in parts:
        if values.dtype == text and all(isinstance(v, str) for v in values):
            arrays[name] = np.array(values.tolist(), dtype=str)
        elif values.dtype == np.float64:
            arrays[name] = values.to_numpy()
        else:
            return None
    return arrays


def frame_of(arrays: Arrays) -> pd.DataFrame:
    """The frame :func:`frame_arrays` turned into ``arrays``."""
    columns = arrays["_columns"].tolist()
    index = pd.Index(arrays["_index"].tolist(), name=str(arrays["_index_name"]))
    data = {name: _column(arrays[f"col:{name}"]) for name in columns}
    return pd.DataFrame(data, index=index, columns=columns)


def _column(values: np.ndarray) -> list[str] | np.ndarray:
    return values.tolist() if values.dtype.kind == "U" else values


def geoframe_arrays(frame: gpd.GeoDataFrame) -> Arrays | None:
    """A GeoDataFrame (text and float columns, a text index, one geometry column) as arrays: its table as in
    :func:`frame_arrays`, its geometries as WKB (exact coordinates)."""
    import shapely

    table = frame_arrays(frame.drop(columns=frame.geometry.name))
    if table is None:
        return None
    wkb = shapely.to_wkb(frame.geometry.values, output_dimension=2, include_srid=False)
    lengths = np.array([len(w) for w in wkb], dtype=np.int64)
    return table | {"_geometry_name": np.array(frame.geometry.name), "_order": np.array(list(map(str, frame.columns))),
                    "_wkb": np.frombuffer(b"".join(wkb), dtype=np.uint8),
                    "_wkb_offsets": np.concatenate([[0], np.cumsum(lengths)])}


def geoframe_of(arrays: Arrays, crs: str) -> gpd.GeoDataFrame:
    """The GeoDataFrame :func:`geoframe_arrays` turned into ``arrays``, in ``crs``."""
    import geopandas as gpd
    import shapely

    table = frame_of(arrays)
    data, offsets = arrays["_wkb"].tobytes(), arrays["_wkb_offsets"]
    if len(offsets) != len(table) + 1 or offsets[-1] != len(data):
        msg = "The geometries do not match the table."
        raise ValueError(msg)
    wkb = np.array([data[a:b] for a, b in itertools.pairwise(offsets.tolist())], dtype=object)
    name = str(arrays["_geometry_name"])
    geometry = gpd.GeoSeries(shapely.from_wkb(wkb), index=table.index, crs=crs, name=name)
    frame = table.assign(**{name: geometry})[arrays["_order"].tolist()]
    return gpd.GeoDataFrame(frame, geometry=name, crs=crs)
