"""CTR building blocks against slow references: a shared embedding table is a one-hot times a
matrix, per-field tables compute the same thing, the MLP has the promised shapes, and the
CTRModel base trains with the BCE it documents."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from recsys_lesson.models.layers import (
    MLP,
    CTRModel,
    FeaturesEmbedding,
    FeaturesLinear,
    FieldwiseEmbedding,
    check_features,
)

FIELD_DIMS = (3, 5, 2, 4)


def random_features(field_dims, batch, seed=0):
    generator = torch.Generator().manual_seed(seed)
    columns = [torch.randint(0, d, (batch,), generator=generator) for d in field_dims]
    return torch.stack(columns, dim=1)  # (batch, num_fields)


def one_hot_fields(features, field_dims):
    """The textbook input: one one-hot per field, concatenated, (batch, num_fields, sum(field_dims))."""
    batch, num_fields = features.shape
    total = sum(field_dims)
    x = torch.zeros(batch, num_fields, total)
    start = 0
    for f, d in enumerate(field_dims):
        for row in range(batch):
            x[row, f, start + int(features[row, f])] = 1.0
        start += d
    return x


def test_offsets_are_the_starts_of_each_field():
    embedding = FeaturesEmbedding(FIELD_DIMS, dim=3)
    assert embedding.offsets.tolist() == [0, 3, 8, 10]
    features = torch.tensor([[2, 4, 1, 0], [0, 0, 0, 3]])
    out = embedding(features)
    assert out.shape == (2, 4, 3)
    assert torch.equal(out[0], embedding.weight[[2, 7, 9, 10]])
    assert torch.equal(out[1], embedding.weight[[0, 3, 8, 13]])


def test_features_embedding_is_one_hot_times_a_matrix_including_gradients():
    torch.manual_seed(0)
    embedding = FeaturesEmbedding(FIELD_DIMS, dim=4, init_std=1.0)
    matrix = embedding.weight.detach().clone().requires_grad_(True)  # (sum(field_dims), dim)
    features = random_features(FIELD_DIMS, batch=7)
    fast = embedding(features)
    slow = one_hot_fields(features, FIELD_DIMS) @ matrix  # (batch, num_fields, dim)
    assert torch.allclose(fast, slow, atol=1e-6)
    upstream = torch.randn_like(slow)
    (fast * upstream).sum().backward()
    (slow * upstream).sum().backward()
    assert torch.allclose(embedding.weight.grad, matrix.grad, atol=1e-6)


def test_num_parameters_is_one_row_per_value():
    embedding = FeaturesEmbedding(FIELD_DIMS, dim=6)
    assert embedding.num_parameters == sum(p.numel() for p in embedding.parameters()) == 14 * 6
    assert FeaturesLinear(FIELD_DIMS).weight.weight.shape == (14, 1)


def test_init_std_sets_the_spread():
    embedding = FeaturesEmbedding((2000,), dim=50)
    assert embedding.weight.std().item() == pytest.approx(0.01, rel=0.05)


@pytest.mark.parametrize("make", [lambda: FeaturesEmbedding(FIELD_DIMS, 2), lambda: FieldwiseEmbedding(FIELD_DIMS, 2),
                                  lambda: FeaturesLinear(FIELD_DIMS)])
def test_out_of_range_values_name_the_field(make):
    layer = make()
    too_high = torch.tensor([[0, 0, 0, 0], [1, 5, 1, 1]])
    with pytest.raises(ValueError, match=r"field 1 holds index 5 \(row 1\), outside \[0, 5\)"):
        layer(too_high)
    negative = torch.tensor([[0, 0, 0, -1]])
    with pytest.raises(ValueError, match=r"field 3 holds index -1 .*outside \[0, 4\)"):
        layer(negative)
    # A value that would silently read the next field's first row in a shared table.
    with pytest.raises(ValueError, match="field 0 holds index 3"):
        layer(torch.tensor([[3, 0, 0, 0]]))


def test_bad_shapes_and_dtypes_are_refused():
    embedding = FeaturesEmbedding(FIELD_DIMS, 2)
    with pytest.raises(ValueError, match=r"shape \(batch, num_fields\) = \(batch, 4\), got \(3, 4, 1\)"):
        embedding(torch.zeros(3, 4, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"got \(4,\)"):
        embedding(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"got \(2, 3\)"):
        embedding(torch.zeros(2, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="integer indices"):
        embedding(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="torch tensor"):
        check_features(np.zeros((2, 4), dtype=np.int64), FIELD_DIMS)
    assert embedding(torch.zeros(0, 4, dtype=torch.long)).shape == (0, 4, 2)


@pytest.mark.parametrize("field_dims, dim", [((), 2), ((3, 0), 2), ((3, 2.5), 2), ((3,), 0)])
def test_bad_constructor_arguments_are_refused(field_dims, dim):
    with pytest.raises(ValueError):
        FeaturesEmbedding(field_dims, dim)


def test_fieldwise_embedding_equals_the_shared_table_after_copying():
    torch.manual_seed(1)
    shared = FeaturesEmbedding(FIELD_DIMS, dim=3, init_std=1.0)
    fieldwise = FieldwiseEmbedding(FIELD_DIMS, dim=3)
    assert fieldwise.num_parameters == shared.num_parameters
    features = random_features(FIELD_DIMS, batch=20, seed=2)
    assert not torch.allclose(fieldwise(features), shared(features))
    fieldwise.copy_from(shared)
    assert torch.equal(fieldwise(features), shared(features))
    # Copying by hand, table by table, is the same operation.
    manual = FieldwiseEmbedding(FIELD_DIMS, dim=3)
    with torch.no_grad():
        for f, table in enumerate(manual.embeddings):
            start = sum(FIELD_DIMS[:f])
            table.weight.copy_(shared.weight[start : start + FIELD_DIMS[f]])
    assert torch.equal(manual(features), shared(features))
    with pytest.raises(ValueError, match="Cannot copy"):
        FieldwiseEmbedding(FIELD_DIMS, dim=4).copy_from(shared)


def test_features_linear_is_bias_plus_one_weight_per_field():
    torch.manual_seed(3)
    linear = FeaturesLinear(FIELD_DIMS)
    with torch.no_grad():
        linear.weight.weight.normal_()
        linear.bias.fill_(0.5)
    features = random_features(FIELD_DIMS, batch=5, seed=4)
    slow = torch.stack([
        0.5 + sum(linear.weight.weight[sum(FIELD_DIMS[:f]) + int(features[row, f]), 0] for f in range(4))
        for row in range(5)
    ])
    out = linear(features)
    assert out.shape == (5,)
    assert torch.allclose(out, slow, atol=1e-6)


def test_mlp_shapes_and_layers():
    x = torch.randn(6, 10)
    assert MLP(10, (8, 4))(x).shape == (6,)
    assert MLP(10, (8, 4), output_dim=3)(x).shape == (6, 3)
    last_hidden = MLP(10, (8, 4), output_dim=None)
    assert last_hidden(x).shape == (6, 4) and last_hidden.out_features == 4
    assert (last_hidden(x) >= 0).all()  # ends on the ReLU of the last hidden layer
    assert MLP(10, ())(x).shape == (6,)  # no hidden layer: a linear model
    tower = MLP(10, (8, 4), dropout=0.5, batch_norm=True)
    kinds = [type(layer).__name__ for layer in tower.layers]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    tower.eval()
    assert torch.equal(tower(x), tower(x))  # no dropout in eval mode
    tower.train()
    assert not torch.equal(tower(x), tower(x))


def test_mlp_forward_is_the_stack_of_layers():
    torch.manual_seed(5)
    mlp = MLP(5, (7,), output_dim=1)
    x = torch.randn(3, 5)
    first, last = mlp.layers[0], mlp.layers[2]
    slow = (torch.relu(x @ first.weight.T + first.bias) @ last.weight.T + last.bias).squeeze(-1)
    assert torch.allclose(mlp(x), slow, atol=1e-6)


@pytest.mark.parametrize("kwargs", [dict(input_dim=0), dict(input_dim=4, hidden=(8, 0)), dict(input_dim=4, dropout=1.0),
                                    dict(input_dim=4, output_dim=0), dict(input_dim=4, hidden=(), output_dim=None)])
def test_mlp_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        MLP(**kwargs)


def test_mlp_bad_input_shape():
    with pytest.raises(ValueError, match=r"\(batch, 10\), got \(6, 9\)"):
        MLP(10)(torch.randn(6, 9))


class SumModel(CTRModel):
    """The simplest CTR model: the logit is the sum of one embedding per field."""

    def __init__(self, field_dims):
        super().__init__()
        self.embedding = FeaturesEmbedding(field_dims, dim=1, init_std=1.0)
        self.field_dims = self.embedding.field_dims

    def forward(self, features):
        return self.embedding(features).sum(dim=(1, 2))  # (batch,)


def test_ctr_loss_is_binary_cross_entropy_on_the_logits():
    torch.manual_seed(6)
    model = SumModel(FIELD_DIMS)
    features = random_features(FIELD_DIMS, batch=9, seed=7)
    labels = torch.tensor([1, 0, 1, 1, 0, 0, 1, 0, 1])
    p = torch.sigmoid(model(features))
    slow = -(labels * p.log() + (1 - labels) * (1 - p).log()).mean()
    assert model.loss({"features": features, "labels": labels}).item() == pytest.approx(slow.item(), abs=1e-6)
    assert model.num_fields == 4 and model.num_parameters == 14
    with pytest.raises(KeyError, match="needs 'features' and 'labels'"):
        model.loss({"features": features})


def test_predict_logits_in_chunks_equals_forward_and_restores_the_mode():
    torch.manual_seed(8)
    model = SumModel(FIELD_DIMS)
    features = random_features(FIELD_DIMS, batch=25, seed=9)
    model.train()
    logits = model.predict_logits(features, batch_size=4)
    assert model.training
    assert logits.device.type == "cpu" and logits.dtype == torch.float32 and not logits.requires_grad
    assert torch.allclose(logits, model(features).detach(), atol=1e-6)
    assert torch.allclose(model.predict_logits(features.numpy()), logits)
    assert model.predict_logits(torch.zeros(0, 4, dtype=torch.long)).shape == (0,)
    with pytest.raises(ValueError, match="integer indices"):
        model.predict_logits(features.numpy().astype(float))
    with pytest.raises(ValueError, match="batch_size"):
        model.predict_logits(features, batch_size=0)
    with pytest.raises(ValueError, match="field 2 holds index 7"):
        model.predict_logits(torch.tensor([[0, 0, 7, 0]]))
