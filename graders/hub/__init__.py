"""JupyterHub integration: the exchange service with grading on submit, its nbgrader client, its pages and the
grades in the student's Jupyter (serverext.py and the prebuilt labextensions/graders-hub), demo accounts.

Why a service of our own: nbgrader's filesystem exchange needs a world-writable
shared folder, which breaks on hubs whose users do not share a filesystem
(containers, several nodes). ngshare (a hub service) needs its
client, ngshare_exchange 0.5.3, which pins jupyter-core<4.11.2 and so cannot
be installed beside nbgrader 0.9.6 / Jupyter Server 2. So the exchange is
`service.py` (behind the hub's auth) plus `exchange.py` (nbgrader's exchange
extension point, so nbgrader's own Assignments tab drives it).
"""
