# pandas/numpy/matplotlib analyses as an agent writes them (data built in memory: no files).
# %% pandas-groupby-sales
import pandas as pd
sales = pd.DataFrame({
    "region": ["north", "south", "north", "east", "south", "east", "north"],
    "product": ["a", "b", "a", "c", "a", "b", "c"],
    "units": [10, 4, 7, 3, 8, 6, 2],
    "price": [2.5, 4.0, 2.5, 10.0, 2.5, 4.0, 10.0],
})
sales["revenue"] = sales["units"] * sales["price"]
by_region = sales.groupby("region")["revenue"].sum().sort_values(ascending=False)
print(by_region)
result = by_region.to_dict()
# %% pandas-describe
import pandas as pd
df = pd.DataFrame({"x": [1, 2, 3, 4, 5, 6], "y": [2.0, 4.1, 6.2, 7.9, 10.1, 12.0]})
print(df.describe().round(3))
result = df.describe().round(3).to_dict()
# %% pandas-read-csv-from-text
import io
import pandas as pd
text = "date,city,temp\n2024-01-01,Oslo,-3.5\n2024-01-01,Rome,9.0\n2024-01-02,Oslo,-5.0\n2024-01-02,Rome,11.5\n"
df = pd.read_csv(io.StringIO(text), parse_dates=["date"])
pivot = df.pivot(index="date", columns="city", values="temp")
print(pivot)
result = {"dtypes": {k: str(v) for k, v in df.dtypes.items()}, "mean": df.groupby("city")["temp"].mean().to_dict()}
# %% pandas-merge-join
import pandas as pd
orders = pd.DataFrame({"order_id": [1, 2, 3, 4], "customer_id": [10, 20, 10, 30], "total": [99.5, 15.0, 42.0, 7.25]})
customers = pd.DataFrame({"customer_id": [10, 20, 40], "name": ["Ada", "Bob", "Cy"]})
inner = orders.merge(customers, on="customer_id")
left = orders.merge(customers, on="customer_id", how="left")
print(inner)
result = [len(inner), int(left["name"].isna().sum()), inner.groupby("name")["total"].sum().to_dict()]
# %% pandas-missing-values
import numpy as np
import pandas as pd
df = pd.DataFrame({"a": [1.0, np.nan, 3.0, np.nan], "b": ["x", None, "z", "w"]})
print(df.isna().sum())
filled = df.fillna({"a": df["a"].mean(), "b": "?"})
print(filled)
result = [df.dropna().shape[0], filled["a"].tolist(), filled["b"].tolist()]
# %% pandas-apply-map
import pandas as pd
df = pd.DataFrame({"name": ["alice smith", "bob jones"], "score": [88, 92]})
df["first"] = df["name"].map(lambda s: s.split()[0].title())
df["grade"] = df["score"].apply(lambda s: "A" if s >= 90 else "B")
df["label"] = df.apply(lambda r: f"{r['first']}:{r['grade']}", axis=1)
print(df)
result = df["label"].tolist()
# %% pandas-string-methods
import pandas as pd
s = pd.Series(["  Apple pie", "banana split ", "Cherry tart", None])
clean = s.str.strip().str.lower()
print(clean.str.contains("an"), clean.str.len())
result = [clean.str.split().str[0].tolist(), clean.str.upper().fillna("").tolist()]
# %% pandas-datetime-resample
import pandas as pd
idx = pd.date_range("2024-01-01", periods=10, freq="D")
s = pd.Series(range(10), index=idx)
weekly = s.resample("W").sum()
print(weekly)
result = {"weekly": {str(k.date()): int(v) for k, v in weekly.items()}, "dow": s.index.day_name()[:3].tolist()}
# %% pandas-rolling-window
import pandas as pd
s = pd.Series([1, 3, 5, 7, 9, 11, 13])
print(s.rolling(3).mean())
result = [s.rolling(3).mean().tolist(), s.expanding().sum().tolist(), s.diff().fillna(0).tolist()]
# %% pandas-pivot-table
import pandas as pd
df = pd.DataFrame({
    "team": ["a", "a", "b", "b", "a", "b"],
    "quarter": ["q1", "q2", "q1", "q2", "q1", "q1"],
    "points": [5, 7, 3, 9, 2, 4],
})
table = pd.pivot_table(df, index="team", columns="quarter", values="points", aggfunc="sum", fill_value=0)
print(table)
result = table.to_dict()
# %% pandas-value-counts-crosstab
import pandas as pd
df = pd.DataFrame({"gender": ["f", "m", "f", "f", "m"], "smoker": ["y", "n", "n", "y", "n"]})
print(df["gender"].value_counts())
ct = pd.crosstab(df["gender"], df["smoker"])
print(ct)
result = ct.to_dict()
# %% pandas-sort-rank-nlargest
import pandas as pd
df = pd.DataFrame({"city": ["A", "B", "C", "D", "E"], "pop": [500, 1500, 800, 1500, 300]})
df["rank"] = df["pop"].rank(ascending=False, method="min")
print(df.sort_values(["pop", "city"], ascending=[False, True]))
result = [df.nlargest(2, "pop")["city"].tolist(), df["rank"].tolist()]
# %% pandas-multiindex-groupby
import pandas as pd
df = pd.DataFrame({"store": ["s1", "s1", "s2", "s2", "s1"], "dept": ["x", "y", "x", "x", "x"], "sales": [10, 20, 30, 40, 50]})
g = df.groupby(["store", "dept"])["sales"].agg(["sum", "count"])
print(g)
result = {f"{s}/{d}": int(v) for (s, d), v in g["sum"].items()}
# %% pandas-dataframe-as-result
import pandas as pd
result = pd.DataFrame({"k": ["a", "b"], "v": [1.5, None]}).set_index("k")
print(result)
# %% pandas-series-as-result
import pandas as pd
result = pd.Series({"mean": 2.5, "max": 4, "min": 1}).astype(float)
# %% pandas-json-round-trip
import io
import pandas as pd
df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
text = df.to_json(orient="records")
print(text)
back = pd.read_json(io.StringIO(text))
result = back.to_dict("records")
# %% pandas-cut-and-qcut
import pandas as pd
ages = pd.Series([3, 17, 25, 41, 66, 80])
bins = pd.cut(ages, bins=[0, 18, 65, 120], labels=["child", "adult", "senior"])
print(bins.value_counts().sort_index())
result = [bins.astype(str).tolist(), pd.qcut(ages, 2, labels=["low", "high"]).astype(str).tolist()]
# %% pandas-melt-and-concat
import pandas as pd
wide = pd.DataFrame({"id": [1, 2], "jan": [10, 20], "feb": [11, 21]})
long = wide.melt(id_vars="id", var_name="month", value_name="value")
more = pd.concat([long, pd.DataFrame({"id": [3], "month": ["jan"], "value": [30]})], ignore_index=True)
print(more)
result = more.groupby("month")["value"].sum().to_dict()
# %% pandas-to-csv-string
import pandas as pd
df = pd.DataFrame({"a": [1, 2], "b": [0.5, 0.25]})
result = df.to_csv(index=False)
print(result)
# %% numpy-basics
import numpy as np
a = np.arange(12).reshape(3, 4)
print(a, a.shape, a.dtype, a.sum(axis=0), a.mean(axis=1))
result = {"T": a.T.tolist(), "where": np.where(a % 5 == 0)[1].tolist(), "cumsum": a.ravel().cumsum()[-1]}
# %% numpy-linear-algebra
import numpy as np
A = np.array([[3.0, 1.0], [1.0, 2.0]])
b = np.array([9.0, 8.0])
x = np.linalg.solve(A, b)
w, v = np.linalg.eigh(A)
print(np.round(x, 6), np.allclose(A @ x, b))
result = {"x": np.round(x, 6).tolist(), "det": round(float(np.linalg.det(A)), 6), "eig": np.round(w, 6).tolist()}
# %% numpy-broadcasting-stats
import numpy as np
rng = np.random.default_rng(42)
data = rng.normal(loc=10, scale=2, size=(100, 3))
z = (data - data.mean(axis=0)) / data.std(axis=0)
result = [np.round(z.mean(axis=0), 8).tolist(), np.round(z.std(axis=0), 8).tolist(), np.round(np.percentile(data, [25, 50, 75]), 4).tolist()]
print(result)
# %% numpy-polyfit
import numpy as np
x = np.linspace(0, 10, 11)
y = 3 * x + 2 + np.array([0.1, -0.1, 0.05, 0, -0.05, 0.1, -0.1, 0.05, 0, -0.05, 0])
slope, intercept = np.polyfit(x, y, 1)
result = [round(float(slope), 4), round(float(intercept), 4), np.round(np.polyval([1, 0, -1], [0, 1, 2]), 6).tolist()]
print(result)
# %% numpy-boolean-masks
import numpy as np
temps = np.array([12.5, 18.0, 25.3, 30.1, 15.2, 22.8])
hot = temps > 20
print(hot, temps[hot], np.count_nonzero(hot))
result = {"hot": temps[hot], "clipped": np.clip(temps, 15, 25), "argmax": int(np.argmax(temps))}
# %% numpy-scalar-result
import numpy as np
result = np.float64(2.5) * np.int64(3)
print(type(result).__name__)
# %% numpy-array-result
import numpy as np
result = np.eye(3, dtype=int)
# %% numpy-unique-sort-search
import numpy as np
a = np.array([5, 1, 4, 1, 5, 9, 2, 6, 5, 3])
vals, counts = np.unique(a, return_counts=True)
s = np.sort(a)
result = {"vals": vals, "counts": counts, "pos": np.searchsorted(s, [4, 7]), "argsort": np.argsort(a, kind="stable")[:3]}
print(result)
# %% numpy-save-load-in-memory
import io
import numpy as np
buf = io.BytesIO()
np.save(buf, np.arange(5) ** 2)
buf.seek(0)
result = np.load(buf).tolist()
print(result)
# %% numpy-nan-handling
import numpy as np
a = np.array([1.0, np.nan, 3.0, np.inf])
print(np.isnan(a), np.isfinite(a))
result = [float(np.nanmean(a[np.isfinite(a) | np.isnan(a)])), a.tolist()]
# %% matplotlib-line-plot
import matplotlib.pyplot as plt
import numpy as np
x = np.linspace(0, 2 * np.pi, 50)
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(x, np.sin(x), label="sin")
ax.plot(x, np.cos(x), label="cos")
ax.set_title("Trig")
ax.legend()
result = [len(ax.lines), ax.get_title()]
# %% matplotlib-bar-and-close
import matplotlib.pyplot as plt
fig = plt.figure()
plt.bar(["a", "b", "c"], [3, 1, 2])
plt.close(fig)
result = plt.get_fignums()
# %% matplotlib-two-figures
import matplotlib.pyplot as plt
plt.figure()
plt.hist([1, 2, 2, 3, 3, 3])
plt.figure()
plt.scatter([1, 2, 3], [3, 1, 2])
result = len(plt.get_fignums())
# %% matplotlib-savefig-to-buffer
import io
import matplotlib.pyplot as plt
fig, ax = plt.subplots()
ax.plot([1, 2, 3])
buf = io.BytesIO()
fig.savefig(buf, format="png")
plt.close(fig)
result = buf.getvalue()[:8] == b"\x89PNG\r\n\x1a\n"
# %% pandas-plot-to-figure
import pandas as pd
import matplotlib.pyplot as plt
df = pd.DataFrame({"month": ["jan", "feb", "mar"], "sales": [120, 135, 150]})
ax = df.plot(x="month", y="sales", kind="bar", legend=False, title="Sales")
result = ax.get_title()
# %% analysis-report-end-to-end
import io
import numpy as np
import pandas as pd
csv = "\n".join(["day,visits,signups"] + [f"{d},{100 + 7 * d},{(d * 3) % 11}" for d in range(1, 15)])
df = pd.read_csv(io.StringIO(csv))
df["conversion"] = (df["signups"] / df["visits"]).round(4)
weekly = df.assign(week=(df["day"] - 1) // 7 + 1).groupby("week").agg(visits=("visits", "sum"), signups=("signups", "sum"))
corr = float(np.corrcoef(df["visits"], df["signups"])[0, 1])
print(weekly)
print(f"correlation: {corr:.3f}")
result = {"weekly": weekly.reset_index().to_dict("records"), "best_day": int(df.loc[df["conversion"].idxmax(), "day"]), "corr": round(corr, 3)}
