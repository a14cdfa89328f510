"""driftlab.plotting leaves matplotlib's global state alone; figures are byte-stable."""

import subprocess
import sys


def test_import_changes_no_backend_and_no_rcparams():
    # a fresh interpreter: the backend and rcParams before and after importing driftlab.plotting
    # (and building and saving a figure) must be identical
    code = (
        "import matplotlib, io\n"
        "before = (matplotlib.get_backend(), dict(matplotlib.rcParams))\n"
        "import driftlab.plotting as P\n"
        "with P.style():\n"
        "    fig, ax = P.figure()\n"
        "    ax[0, 0].plot([0, 1], [0, 1])\n"
        "import tempfile, os\n"
        "P.save_figure(fig, os.path.join(tempfile.mkdtemp(), 'f.pdf'))\n"
        "after = (matplotlib.get_backend(), dict(matplotlib.rcParams))\n"
        "changed = sorted(k for k in before[1] if before[1][k] != after[1][k])\n"
        "assert before[0] == after[0], (before[0], after[0])\n"
        "assert not changed, changed\n"
        "import matplotlib.pyplot as plt\n"
        "assert plt.get_fignums() == [], plt.get_fignums()\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_style_applies_inside_the_block_only():
    import matplotlib

    from driftlab.plotting import STYLE, figure, style

    outside = matplotlib.rcParams["font.size"]
    with style():
        fig, ax = figure()
        label = ax[0, 0].set_xlabel("x")
        assert matplotlib.rcParams["font.size"] == STYLE["font.size"]
    assert matplotlib.rcParams["font.size"] == outside
    assert label.get_fontsize() == STYLE["axes.labelsize"]


def test_saved_pdf_is_byte_stable(tmp_path):
    from driftlab.plotting import figure, save_figure, style

    blobs = []
    for i in range(2):
        with style():
            fig, ax = figure()
            ax[0, 0].plot([0, 1, 2], [1, 0, 2], label=r"$e^{-rt}$")
            ax[0, 0].legend()
        blobs.append(save_figure(fig, tmp_path / f"f{i}.pdf").read_bytes())
    assert blobs[0] == blobs[1]
