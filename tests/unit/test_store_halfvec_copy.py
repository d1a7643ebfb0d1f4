"""halfvec_fields must produce exactly pgvector's binary form, row by row."""

import numpy as np
from pgvector import HalfVector

from stockmind.store.halfvec_copy import halfvec_fields


def test_fields_equal_pgvectors_own_binary_encoding():
    matrix = np.random.default_rng(0).normal(size=(6, 13)).astype(np.float32)

    fields = halfvec_fields(matrix)

    assert fields == [HalfVector(row).to_binary() for row in matrix]


def test_a_field_decodes_back_to_the_half_precision_values():
    matrix = np.array([[0.5, -1.25, 3.0e-3, 65504.0]], dtype=np.float32)

    (field,) = halfvec_fields(matrix)

    assert (HalfVector.from_binary(field).to_numpy().astype(np.float32).tolist()
            == [0.5, -1.25, np.float16(3.0e-3), 65504.0])


def test_a_non_contiguous_float64_slice_is_encoded_like_its_copy():
    matrix = np.random.default_rng(1).normal(size=(4, 10))[:, ::2]

    assert halfvec_fields(matrix) == halfvec_fields(np.ascontiguousarray(matrix, dtype=np.float32))
