"""nbgrader settings shared by every account on the statelab hub (students, instructors, grader).

The hub puts this folder on JUPYTER_CONFIG_PATH of every single-user server and of the
formgrader service; on a hand-built server copy it to /etc/jupyter/nbgrader_config.py.
"""

import os
import stat

from nbgrader.exchange.default.submit import ExchangeSubmit

c = get_config()  # noqa: F821

# One exchange for the hub, one folder per course inside it; students' local copies live in
# <course>/<assignment> so two courses can both have a "ps1".
c.Exchange.root = os.environ.get("STATELAB_EXCHANGE_ROOT", "/srv/nbgrader/exchange")
c.Exchange.path_includes_course = True

# Course membership comes from the hub groups nbgrader-<course> / formgrade-<course>.
if os.environ.get("JUPYTERHUB_API_TOKEN"):
    from nbgrader.auth import JupyterHubAuthPlugin

    c.Authenticator.plugin_class = JupyterHubAuthPlugin


class PrivateSubmit(ExchangeSubmit):
    """nbgrader's submit, then close the new submission folder to other students.

    nbgrader leaves each submission folder mode 0777 inside an unlistable inbound folder, so
    only its unguessable name protects it (nbgrader issue #978). The inbound folder is set-gid
    and owned by the grader account, so the new folder already belongs to the grader's group:
    0770 keeps access for the author and the grader group and shuts everyone else out, even
    someone who learns the folder's name.
    """

    def copy_files(self):
        super().copy_files()
        inbound = os.stat(self.inbound_path)
        dest = os.path.join(self.inbound_path, self.assignment_filename)
        if not inbound.st_mode & stat.S_ISGID or os.stat(dest).st_gid != inbound.st_gid:
            self.log.warning(
                "%s is not a set-gid folder owned by the grader group; leaving nbgrader's "
                "default permissions on %s", self.inbound_path, dest,
            )
            return
        os.chmod(dest, 0o770)


c.ExchangeFactory.submit = PrivateSubmit
