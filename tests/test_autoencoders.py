"""Tests for recsys_lesson.models.autoencoders: CDAE, Mult-DAE, Mult-VAE, β annealing, the
strong-generalisation evaluation, and training through the sparse path."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from scipy.special import expit, log_softmax

from recsys_lesson.interactions import HeldOutRows, SparseRows, interaction_matrix
from recsys_lesson.models import autoencoders as ae
from recsys_lesson.models.autoencoders import (
    CDAE, MultDAE, MultVAE, RowLoss, fit_autoencoder, heldout_metrics, heldout_topk, multinomial_nll,
)


@pytest.fixture(autouse=True)
def one_thread():
    """These models are tiny: one thread is faster, and immune to a busy machine's other jobs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def binary_rows(num_rows=6, num_items=12, seed=0, density=0.3):
    generator = torch.Generator().manual_seed(seed)
    x = (torch.rand(num_rows, num_items, generator=generator) < density).float()
    x[:, 0] = 1.0  # every row has an interaction
    return x


# ----- CDAE ---------------------------------------------------------------------------------------


def test_cdae_forward_matches_its_equations():
    torch.manual_seed(0)
    model = CDAE(num_users=5, num_items=12, dim=4, dropout=0.5).eval()  # eval: no corruption
    with torch.no_grad():
        model.user_vectors.weight.normal_()
    x, users = binary_rows(3), torch.tensor([4, 0, 2])
    W, b = model.encoder.weight.detach().numpy(), model.encoder.bias.detach().numpy()
    W2, b2 = model.decoder.weight.detach().numpy(), model.decoder.bias.detach().numpy()
    V = model.user_vectors.weight.detach().numpy()
    for row, user in enumerate(users.tolist()):
        hidden = expit(W @ x[row].numpy() + V[user] + b)
        expected = W2 @ hidden + b2
        np.testing.assert_allclose(model(x, users)[row].detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    # users=None means V_u = 0, which is also what an untrained user has
    fresh = CDAE(5, 12, dim=4).eval()
    torch.testing.assert_close(fresh(x), fresh(x, torch.tensor([1, 2, 3])))


def test_cdae_losses_match_references():
    torch.manual_seed(1)
    x = binary_rows(4)
    for loss in ("logistic", "squared"):
        model = CDAE(4, 12, dim=3, loss=loss).eval()
        logits = model(x).detach().numpy().astype(np.float64)
        p, target = expit(logits), x.numpy()
        if loss == "logistic":
            expected = -(target * np.log(p) + (1 - target) * np.log(1 - p)).sum(1).mean()
        else:
            expected = ((p - target) ** 2).sum(1).mean()
        assert model.loss(x).item() == pytest.approx(expected, rel=1e-5)


def test_cdae_corruption_drops_and_rescales():
    model = CDAE(2, 1000, dim=3, dropout=0.25).train()
    corrupted = model.corrupt(torch.ones(2, 1000))
    kept = corrupted[corrupted > 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / 0.75))
    assert 0.15 < (corrupted == 0).float().mean() < 0.35


def test_cdae_fold_in_fits_only_the_given_users():
    torch.manual_seed(2)
    x, users = binary_rows(4, density=0.4), torch.tensor([1, 3, 5, 6])
    model = CDAE(8, 12, dim=6, dropout=0.0)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    loss_zero = model.loss(x, users).item()
    vectors = model.fold_in(x, users, steps=100, lr=0.1)
    assert vectors.shape == (4, 6)
    assert model.loss(x, users).item() < loss_zero - 1e-3  # the fitted vectors explain the rows better
    for name, p in model.named_parameters():
        if name != "user_vectors.weight":
            assert torch.equal(p, before[name]), name
        assert p.requires_grad
    table = model.user_vectors.weight.detach()
    assert torch.equal(table[users], vectors)
    others = torch.tensor([0, 2, 4, 7])
    assert torch.equal(table[others], torch.zeros(4, 6))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(num_users=0, num_items=3), "num_users"),
        (dict(num_users=2, num_items=3, dim=0), "dim"),
        (dict(num_users=2, num_items=3, dropout=1.0), "dropout"),
        (dict(num_users=2, num_items=3, loss="hinge"), "loss"),
    ],
)
def test_cdae_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CDAE(**kwargs)


def test_cdae_bad_inputs():
    model = CDAE(3, 12)
    with pytest.raises(ValueError, match=r"shape \(batch, 12\)"):
        model(torch.ones(2, 11))
    with pytest.raises(ValueError, match="user index"):
        model(binary_rows(2), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="one index per row"):
        model(binary_rows(2), torch.tensor([0]))


# ----- Mult-DAE and Mult-VAE -----------------------------------------------------------------------


def test_multinomial_nll_matches_reference():
    logits, x = torch.randn(3, 7, generator=torch.Generator().manual_seed(3)), binary_rows(3, 7)
    expected = -(x.numpy() * log_softmax(logits.numpy().astype(np.float64), axis=1)).sum(1).mean()
    assert multinomial_nll(logits, x).item() == pytest.approx(expected, rel=1e-5)


def test_layer_sizes_follow_the_paper():
    vae, dae = MultVAE(100), MultDAE(100)
    shapes = lambda stack: [(m.in_features, m.out_features) for m in stack if isinstance(m, torch.nn.Linear)]
    assert shapes(vae.encoder) == [(100, 600), (600, 400)]  # mean and log-variance of a 200-d code
    assert shapes(vae.decoder) == [(200, 600), (600, 100)]
    assert shapes(dae.encoder) == [(100, 600), (600, 200)]
    assert shapes(dae.decoder) == [(200, 600), (600, 100)]
    assert shapes(MultVAE(50, hidden_dims=(), dim=8).encoder) == [(50, 16)]


def test_multinomial_models_read_normalised_rows():
    torch.manual_seed(4)
    x = binary_rows(3, 20)
    for model in (MultDAE(20, (16,), 8).eval(), MultVAE(20, (16,), 8).eval()):
        torch.testing.assert_close(model(x), model(3.0 * x))  # L2 normalisation: the scale does not matter


def test_vae_kl_matches_torch_distributions():
    generator = torch.Generator().manual_seed(5)
    mu, logvar = torch.randn(4, 6, generator=generator), torch.randn(4, 6, generator=generator)
    posterior = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    prior = torch.distributions.Normal(torch.zeros(4, 6), torch.ones(4, 6))
    expected = torch.distributions.kl_divergence(posterior, prior).sum(1).mean()
    torch.testing.assert_close(MultVAE.kl(mu, logvar), expected)
    assert MultVAE.kl(torch.zeros(2, 3), torch.zeros(2, 3)).item() == 0.0  # the prior itself


def test_vae_mean_at_evaluation_and_samples_on_request():
    torch.manual_seed(6)
    model, x = MultVAE(20, (16,), 8).eval(), binary_rows(3, 20)
    mu, _ = model.encode(x)
    torch.testing.assert_close(model(x), model.decoder(mu))
    torch.testing.assert_close(model(x), model(x))
    assert not torch.allclose(model(x, sample=True), model(x))


def test_vae_loss_is_nll_plus_beta_kl():
    model, x = MultVAE(20, (16,), 8, dropout=0.0).train(), binary_rows(3, 20)
    torch.manual_seed(7)
    loss = model.loss(x, beta=0.3)
    torch.manual_seed(7)
    mu, logvar = model.encode(x)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
    expected = multinomial_nll(model.decoder(z), x) + 0.3 * MultVAE.kl(mu, logvar)
    torch.testing.assert_close(loss, expected)


def test_multinomial_models_bad_arguments():
    with pytest.raises(ValueError, match="hidden dimension"):
        MultVAE(10, hidden_dims=(0,))
    with pytest.raises(ValueError, match="num_items"):
        MultDAE(0)
    with pytest.raises(ValueError, match="dropout"):
        MultDAE(10, dropout=-0.1)
    with pytest.raises(ValueError, match=r"\(batch, 10\)"):
        MultVAE(10).encode(torch.ones(10))


# ----- RowLoss and β annealing ----------------------------------------------------------------------


def test_row_loss_anneals_beta_linearly_to_the_cap():
    rows = SparseRows(interaction_matrix([0, 1, 2], [0, 1, 2], 3, 4))
    loss_fn = RowLoss(rows, beta_cap=0.2, anneal_steps=10)
    model = MultVAE(4, (8,), 2)
    betas = []
    for _ in range(5):
        loss_fn(model, {"users": torch.tensor([0, 1])})
        betas.append(loss_fn.beta)
    assert betas == pytest.approx([0.0, 0.1, 0.2, 0.2, 0.2])
    assert loss_fn.step == 5
    assert RowLoss(rows, beta_cap=0.5).beta_at(0) == 0.5  # no annealing: the cap from the start


def test_row_loss_densifies_the_batch_rows_for_any_model():
    matrix = interaction_matrix([0, 1, 1, 2], [3, 0, 1, 2], 3, 4)
    seen = {}

    class Spy(torch.nn.Module):
        num_items = 4

        def loss(self, x, users):
            seen["x"], seen["users"] = x, users
            return x.sum()

    RowLoss(SparseRows(matrix))(Spy(), {"users": torch.tensor([2, 1])})
    np.testing.assert_array_equal(seen["x"].numpy(), matrix[[2, 1]].toarray())
    assert seen["users"].tolist() == [2, 1]


def test_row_loss_bad_arguments():
    rows = SparseRows(interaction_matrix([0], [0], 1, 1))
    with pytest.raises(ValueError, match="SparseRows"):
        RowLoss(sp.csr_matrix((1, 1)))
    with pytest.raises(ValueError, match="beta_cap"):
        RowLoss(rows, beta_cap=-0.1)
    with pytest.raises(ValueError, match="anneal_steps"):
        RowLoss(rows, anneal_steps=-1)


# ----- strong-generalisation evaluation --------------------------------------------------------------


def slow_metrics(scores, fold_in, score, k_recall=(20, 50), k_ndcg=(100,)):
    """One user at a time: rank every item not folded in; Recall@k over min(k, |scored|); NDCG@k."""
    out = {f"recall@{k}": [] for k in k_recall} | {f"ndcg@{k}": [] for k in k_ndcg}
    for row in range(scores.shape[0]):
        seen = set(fold_in[row].indices)
        relevant = set(score[row].indices)
        candidates = [i for i in range(scores.shape[1]) if i not in seen]
        ranking = sorted(candidates, key=lambda i: (-scores[row, i], i))
        for k in k_recall:
            out[f"recall@{k}"].append(len(set(ranking[:k]) & relevant) / min(k, len(relevant)))
        for k in k_ndcg:
            dcg = sum(1 / math.log2(r + 2) for r, i in enumerate(ranking[:k]) if i in relevant)
            idcg = sum(1 / math.log2(r + 2) for r in range(min(k, len(relevant))))
            out[f"ndcg@{k}"].append(dcg / idcg)
    return {name: float(np.mean(values)) for name, values in out.items()}


def random_heldout(num_rows=9, num_items=150, seed=8):
    rng = np.random.default_rng(seed)
    fold_in, score = [], []
    for _ in range(num_rows):
        items = rng.permutation(num_items)[: rng.integers(3, 40)]
        cut = max(1, int(0.8 * len(items)))
        fold_in.append(items[:cut])
        score.append(items[cut:])

    def matrix(lists):
        rows = np.repeat(np.arange(num_rows), [len(items) for items in lists])
        return interaction_matrix(rows, np.concatenate(lists), num_rows, num_items)

    return HeldOutRows(np.arange(100, 100 + num_rows), matrix(fold_in), matrix(score))


def test_heldout_metrics_match_a_slow_reference_and_exclude_fold_in():
    heldout = random_heldout()
    table = torch.randn(len(heldout.users), 150, generator=torch.Generator().manual_seed(9))
    row_of_user = {u: r for r, u in enumerate(heldout.users)}

    def scorer(x, users):
        scores = table[[row_of_user[int(u)] for u in users]].clone()
        return scores + 100.0 * x  # folded-in items score highest: they must be ignored

    expected = slow_metrics(table.numpy(), heldout.fold_in, heldout.score)
    got = heldout_metrics(scorer, heldout, batch_size=4)
    assert got == pytest.approx(expected)
    per_user = heldout_metrics(scorer, heldout, reduction="none")
    assert per_user["ndcg@100"].shape == (9,)
    assert np.nanmean(per_user["recall@20"]) == pytest.approx(expected["recall@20"])


def test_heldout_metrics_limits():
    heldout = random_heldout(num_items=120)
    perfect = lambda x, users: torch.as_tensor(heldout.score[np.searchsorted(heldout.users, users.numpy())].toarray())
    assert heldout_metrics(perfect, heldout) == pytest.approx({"recall@20": 1.0, "recall@50": 1.0, "ndcg@100": 1.0})
    worst = lambda x, users: -perfect(x, users)
    assert heldout_metrics(worst, heldout, recall_ks=(20,), ndcg_ks=(10,)) == {"recall@20": 0.0, "ndcg@10": 0.0}


def test_heldout_topk_never_returns_fold_in_items():
    heldout = random_heldout()
    top = heldout_topk(lambda x, users: 100.0 * x, heldout, k=20)
    assert top.shape == (9, 20)
    for row in range(9):
        assert not set(top[row]) & set(heldout.fold_in[row].indices)


def test_heldout_bad_inputs():
    heldout = random_heldout()
    with pytest.raises(ValueError, match="reduction"):
        heldout_metrics(lambda x, users: x, heldout, reduction="sum")
    with pytest.raises(ValueError, match="scorer returned shape"):
        heldout_metrics(lambda x, users: x[:, :3], heldout)
    with pytest.raises(ValueError, match="batch_size"):
        heldout_metrics(lambda x, users: x, heldout, batch_size=0)


# ----- training through the sparse path ---------------------------------------------------------------


def block_data(num_users=60, num_items=30, seed=10):
    """Two groups of users, each interacting with half of the items (and a little noise)."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for user in range(num_users):
        half = np.arange(15) if user % 2 == 0 else np.arange(15, 30)
        chosen = rng.choice(half, size=8, replace=False)
        users += [user] * len(chosen)
        items += chosen.tolist()
    return np.array(users), np.array(items)


@pytest.mark.parametrize("make", [lambda: MultVAE(30, (16,), 4), lambda: MultDAE(30, (16,), 4), lambda: CDAE(60, 30, 8, loss="logistic")])
def test_fit_autoencoder_learns_blocks_through_the_sparse_path(make, monkeypatch):
    users, items = block_data()
    train_users = users < 50
    train = interaction_matrix(users[train_users], items[train_users], 60, 30)
    fold_in, score = [], []
    for u in range(50, 60):
        mine = items[users == u]
        fold_in.append((u, mine[:5]))
        score.append((u, mine[5:]))
    rows = lambda parts: interaction_matrix(
        np.repeat(np.arange(10), [len(i) for _, i in parts]), np.concatenate([i for _, i in parts]), 10, 30)
    heldout = HeldOutRows(np.arange(50, 60), rows(fold_in), rows(score))

    # the sparse path: no full matrix is ever densified, only batches of rows
    def refuse(*args, **kwargs):
        raise AssertionError("the training matrix was densified")

    shapes = []
    original = SparseRows.__call__

    def spy(self, index):
        out = original(self, index)
        shapes.append(tuple(out.shape))
        return out

    monkeypatch.setattr(sp.csr_matrix, "toarray", refuse)
    monkeypatch.setattr(SparseRows, "__call__", spy)
    torch.manual_seed(0)
    model = make()
    history = fit_autoencoder(model, train, None, epochs=20, batch_size=16, lr=1e-2, beta_cap=0.2,
                              anneal_steps=40, device="cpu", progress=False)
    monkeypatch.undo()
    assert max(s[0] for s in shapes) <= 16 and all(s[1] == 30 for s in shapes)
    assert history.train_loss[-1] < history.train_loss[0]
    assert {"step", "beta", "train_seconds"} <= set(history.metrics[0])
    assert history.metric("step")[-1] == 20 * math.ceil(50 / 16)
    if isinstance(model, MultVAE):
        assert history.metric("beta")[0] < 0.2 and history.metric("beta")[-1] == pytest.approx(0.2)
    # held-out users of the even group get even-group items first, and the other way round
    top = heldout_topk(model, heldout, k=5)
    in_own_half = [(top[r] < 15).mean() if (50 + r) % 2 == 0 else (top[r] >= 15).mean() for r in range(10)]
    assert np.mean(in_own_half) > 0.9
    assert heldout_metrics(model, heldout, recall_ks=(5,), ndcg_ks=(10,))["ndcg@10"] > 0.5


def test_fit_autoencoder_monitors_validation_and_checks_inputs():
    users, items = block_data()
    train = interaction_matrix(users[users < 50], items[users < 50], 60, 30)
    valid = HeldOutRows(np.array([50, 51]), interaction_matrix([0, 1], [0, 15], 2, 30),
                        interaction_matrix([0, 1], [1, 16], 2, 30))
    with pytest.raises(ValueError, match="k=50 is larger"):  # the default k need more items than 30
        fit_autoencoder(MultDAE(30, (8,), 4), train, valid, epochs=1, device="cpu", progress=False)
    history = fit_autoencoder(MultDAE(30, (8,), 4), train, valid, epochs=3, batch_size=25, device="cpu",
                              progress=False, recall_ks=(5,), ndcg_ks=(10,), monitor="ndcg@10")
    assert history.best_epoch is not None and set(history.metrics[0]) >= {"recall@5", "ndcg@10"}
    with pytest.raises(ValueError, match="scipy.sparse"):
        fit_autoencoder(MultDAE(30), train.toarray(), device="cpu")
    with pytest.raises(ValueError, match="31 items"):
        fit_autoencoder(MultDAE(31), train, device="cpu")
    with pytest.raises(ValueError, match="no interactions"):
        fit_autoencoder(MultDAE(30), sp.csr_matrix((5, 30), dtype=np.float32), device="cpu")
