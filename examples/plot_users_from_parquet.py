"""
Users from Parquet, embeddings to Parquet
=========================================

A platform keeps its users' histories in files, not in Python lists.
:class:`~sklearn_teracon.datasets.ParquetSequences` reads one list of item ids
per row, row group by row group, only when a chunk of users needs it; the
encoder trains from it (its encoded users go to a temporary file, not to
memory) and writes its answers with ``out=`` a chunk at a time. The same job
runs from the command line as ``python -m sklearn_teracon embed``. Figures at
platform scale are on the "At scale" page.
"""

# %%
# Write the users of a synthetic stream to a Parquet file
# -------------------------------------------------------
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.model_selection import train_test_split

from sklearn_teracon import ContinualUserEncoder
from sklearn_teracon.cli import main
from sklearn_teracon.datasets import ParquetSequences, make_synthetic_stream

folder = Path(tempfile.mkdtemp())
X, _ = make_synthetic_stream(n_users=400, n_items=60, random_state=0)["next_item"].train
table = pa.table({"user_id": [f"user{i}" for i in range(len(X))], "items": X})
pq.write_table(table, folder / "users.parquet", row_group_size=64)

# %%
# Read them lazily, split them, train and embed
# ---------------------------------------------
users = ParquetSequences(folder / "users.parquet", user_column="user_id")
train, test = train_test_split(users, random_state=0)  # lazy views
print(users, type(train).__name__, len(train), len(test))

enc = ContinualUserEncoder(embedding_dim=8, n_blocks=1, max_epochs=2, random_state=0)
enc.partial_fit(train)
enc.transform(test, out=folder / "embeddings.parquet")
embeddings = pq.read_table(folder / "embeddings.parquet")
print(embeddings.schema)
print(embeddings.slice(0, 3).to_pydict()["user"])

# %%
# The same from the command line
# ------------------------------
enc.save(folder / "model.skt")
exit_code = main(
    [
        "embed",
        "--model",
        str(folder / "model.skt"),
        "--input",
        str(folder / "users.parquet"),
        "--output",
        str(folder / "top5.parquet"),
        "--recommend",
        "5",
        "--user-column",
        "user_id",
        "-q",
    ]
)
print(exit_code, pq.read_table(folder / "top5.parquet").slice(0, 3).to_pydict())
