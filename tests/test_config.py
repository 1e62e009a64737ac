"""params.yaml is validated before anything runs."""

import pytest

from pipeline.core import params as config, paths
from tests.conftest import REPO


def test_real_params_file_is_valid():
    params = config.load_params(REPO / "params.yaml")
    assert params.data.dataset in ("mnist", "fashion_mnist")
    assert params.explore.sample_size >= 0


@pytest.mark.parametrize(
    "data, key_path",
    [
        ({"data": {"dataset": "cifar10"}}, "data.dataset"),
        ({"data": {"datset": "mnist"}}, "data.datset"),
        ({"explore": {"sample_size": -1}}, "explore.sample_size"),
        ({"explore": {"sample_size": "100"}}, "explore.sample_size"),
        ({"explore": {"samples_per_class": 0}}, "explore.samples_per_class"),
        ({"explore": {"pca_points": 2.5}}, "explore.pca_points"),
        ({"unknown_section": {}}, "unknown_section"),
    ],
)
def test_bad_params_name_the_key(data, key_path):
    with pytest.raises(config.ParamsError) as err:
        config.parse_params(data, "test.yaml")
    assert key_path in str(err.value)


def test_not_a_mapping_is_refused():
    with pytest.raises(config.ParamsError, match="expected a mapping"):
        config.parse_params(["data"], "x.yaml")


def test_invalid_yaml_is_refused(tmp_path):
    bad = tmp_path / "params.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(config.ParamsError, match="not valid YAML"):
        config.load_params(bad)


def test_project_root_found_from_a_subfolder(tmp_path):
    (tmp_path / "params.yaml").write_text("{}\n")
    (tmp_path / "notebooks").mkdir()
    assert paths.project_root(tmp_path / "notebooks") == tmp_path.resolve()
