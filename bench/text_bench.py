"""python3-torch side of the text benchmark: the BERT of nn/nets/bert.h (post-LN, GELU, dropout
0.1, Hugging Face's layout) with the tied-weight masked-LM head, the same loss and optimiser; and
a BM25 over scipy sparse matrices (the approach of the fast Python BM25 libraries). Prints one
JSON object.   text_bench.py train|infer|bm25 [--threads N] [--batch B] [--length S] [--steps K] [--data CSV]"""
import argparse, csv, json, math, re, sys, time
import torch
import torch.nn as nn
import torch.nn.functional as F

V, H, L, NH, I = 8000, 256, 4, 4, 1024


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.q, self.k, self.v, self.o = nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H), nn.Linear(H, H)
        self.n1, self.n2 = nn.LayerNorm(H, eps=1e-12), nn.LayerNorm(H, eps=1e-12)
        self.f1, self.f2 = nn.Linear(H, I), nn.Linear(I, H)
        self.drop = nn.Dropout(0.1)

    def forward(self, x, mask):
        n, s, _ = x.shape
        split = lambda t: t.view(n, s, NH, H // NH).transpose(1, 2)
        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        p = self.drop(torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(H // NH) + mask, -1))
        a = self.n1(self.drop(self.o((p @ v).transpose(1, 2).reshape(n, s, H))) + x)
        return self.n2(self.drop(self.f2(F.gelu(self.f1(a)))) + a)


class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.word, self.pos, self.types = nn.Embedding(V, H), nn.Embedding(512, H), nn.Embedding(2, H)
        self.norm, self.drop = nn.LayerNorm(H, eps=1e-12), nn.Dropout(0.1)
        self.layers = nn.ModuleList([Layer() for _ in range(L)])

    def forward(self, ids, att):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.drop(self.norm(self.word(ids) + self.pos(pos) + self.types(torch.zeros_like(ids))))
        mask = (1.0 - att[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.layers:
            x = layer(x, mask)
        return x


class MlmHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.dense, self.norm, self.bias = nn.Linear(H, H), nn.LayerNorm(H, eps=1e-12), nn.Parameter(torch.zeros(V))

    def forward(self, h, word):
        return F.linear(self.norm(F.gelu(self.dense(h))), word, self.bias)


def bm25(path):
    import numpy as np
    from scipy import sparse
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    docs = [r["answer"] for r in rows if r["answer"]]
    queries = [r["question"] for r in rows]
    tok = lambda s: re.findall(r"[a-z0-9]+", s.lower())
    t0 = time.perf_counter()
    vocab, indptr, indices = {}, [0], []
    for d in docs:
        for w in tok(d):
            indices.append(vocab.setdefault(w, len(vocab)))
        indptr.append(len(indices))
    tf = sparse.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(len(docs), len(vocab)))
    tf.sum_duplicates()
    dl = np.asarray(tf.sum(1)).ravel()
    df = np.bincount(tf.indices, minlength=len(vocab))
    idf = np.log(1 + (len(docs) - df + 0.5) / (df + 0.5)).astype(np.float32)
    k1, b = 1.2, 0.75
    w = tf.tocoo()
    denom = w.data + k1 * (1 - b + b * dl[w.row] / dl.mean())
    weights = sparse.csc_matrix((idf[w.col] * w.data * (k1 + 1) / denom, (w.row, w.col)), shape=tf.shape)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    checksum = 0
    for q in queries:
        cols = [vocab[t] for t in tok(q) if t in vocab]
        scores = np.asarray(weights[:, cols].sum(1)).ravel() if cols else np.zeros(len(docs))
        top = np.argpartition(-scores, 10)[:10]
        checksum += len(top)
    s = time.perf_counter() - t1
    return dict(documents=len(docs), queries=len(queries), build_s=round(build, 3), queries_per_s=round(len(queries) / s, 1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--length", type=int, default=128)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--data")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    out = dict(side="python3-torch", mode=a.mode, threads=a.threads)
    if a.mode == "bm25":
        out.update(bm25(a.data))
        print(json.dumps(out))
        return
    batch = a.batch or (32 if a.mode == "train" else 1)
    steps = a.steps or (8 if a.mode == "train" else 20)
    torch.manual_seed(0)
    bert, head = Bert(), MlmHead()
    ids = torch.randint(5, V, (batch, a.length))
    att = torch.ones(batch, a.length, dtype=torch.long)
    times = []
    if a.mode == "train":
        params = list(bert.parameters()) + list(head.parameters())
        opt = torch.optim.AdamW(params, lr=5e-4, weight_decay=0.01)
        positions = torch.nonzero(torch.rand(batch * a.length) < 0.15).flatten()
        targets = ids.flatten()[positions]
        bert.train(), head.train()
        for s in range(steps + 2):
            t0 = time.perf_counter()
            hidden = bert(ids, att)
            logits = head(hidden.reshape(-1, H)[positions], bert.word.weight)
            loss = F.cross_entropy(logits, targets)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            if s >= 2:
                times.append(time.perf_counter() - t0)
        times.sort()
        out.update(batch=batch, length=a.length, tokens_per_s=round(batch * a.length / times[len(times) // 2], 1))
    else:
        bert.eval()
        with torch.no_grad():
            for s in range(steps + 3):
                t0 = time.perf_counter()
                h = bert(ids, att)
                m = att.unsqueeze(-1).float()
                pooled = (h * m).sum(1) / m.sum(1).clamp_min(1)
                pooled.sum().item()
                if s >= 3:
                    times.append(time.perf_counter() - t0)
        times.sort()
        out.update(batch=batch, length=a.length, ms_per_batch=round(1000 * times[len(times) // 2], 3))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
