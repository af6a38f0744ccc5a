"""GET /health runs one real inference (issue 17, F5): "ok" only when the model can answer."""

from __future__ import annotations

import torch
from fastapi.testclient import TestClient

from asl_core.inference.predictor import default_model_path
from asl_core.models.checkpoint import read_meta
from asl_core.serve.api import create_app


def test_health_answers_ok_only_while_the_model_can_answer() -> None:
    with TestClient(create_app()) as client:
        architecture = read_meta(default_model_path()).architecture
        assert client.get("/health").json() == {
            "status": "ok",
            "model": f"default model ({architecture})",  # not the file's stem, "model"
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
