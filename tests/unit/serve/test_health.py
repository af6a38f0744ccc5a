"""GET /health runs one real inference (issue 17, F5): "ok" only when the model can answer."""

from __future__ import annotations

from pathlib import Path

import torch
from fastapi.testclient import TestClient

from asl_core.inference.predictor import default_model_path
from asl_core.models.checkpoint import read_meta
from asl_core.serve.api import create_app
from tests.helpers.checkpoints import copy_shipped, edit_meta
from tests.helpers.photos import massey_photo


def test_health_answers_ok_only_while_the_model_can_answer() -> None:
    with TestClient(create_app()) as client:
        architecture = read_meta(default_model_path()).architecture
        assert client.get("/health").json() == {
            "status": "ok",
            "model": f"default model ({architecture})",  # not the file's stem, "model"
            "threshold": 0.72,
            "threshold_source": (
                "this model's calibration (leave people out: 5 folds, 12 people): answers at or "
                "above it were 95% right, 81% of photos answered"
            ),
        }
        # A model that loaded fine and then cannot answer (memory corrupted under it): the
        # old /health still said ok while every /predict failed.
        model = client.app.state.predictor.models[0].model
        with torch.no_grad():
            model.classifier.bias.fill_(float("nan"))
        answer = client.get("/health")
        assert answer.status_code == 503
        assert "The model cannot answer" in answer.json()["detail"]
        assert "answers NaN or infinity" in answer.json()["detail"]


def test_predict_answers_at_the_models_own_threshold_unless_asked(
    massey_root: Path, tmp_path: Path
) -> None:
    """A model recording 0.9475 is served at 0.95 (as /health says): a 0.88 answer is unsure
    there, accepted at threshold=0.72, and accepted by the shipped model's 0.72."""
    photo = massey_photo(massey_root, "v", "hand2").read_bytes()
    files = {"file": ("v.jpg", photo, "image/jpeg")}
    with TestClient(create_app()) as client:
        shipped = client.post("/predict?classes=all", files=files).json()
    assert shipped["accepted"] and 0.72 <= shipped["confidence"] < 0.95
    meta = copy_shipped(tmp_path, "strict")
    edit_meta(meta, lambda raw: raw["extra"]["calibration"].update(threshold=0.9475, fitted_on="x"))
    with TestClient(create_app(meta)) as client:
        health = client.get("/health").json()
        assert health["threshold"] == 0.95
        assert health["threshold_source"].startswith("this model's calibration (x): answers at")
        strict = client.post("/predict?classes=all", files=files).json()
        given = client.post("/predict?classes=all&threshold=0.72", files=files).json()
    assert not strict["accepted"] and {**strict, "accepted": True} == shipped
    assert given == shipped
