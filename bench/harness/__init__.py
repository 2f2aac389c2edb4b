"""What the benchmarks share, one module a job:

- ``processes``: the throwaway site (environment, gunicorn, the training worker, free ports, an S3 server);
- ``client``: the requests sent to it (endpoints, drawing bodies, one-off posts, a browser session);
- ``loadgen``: client threads under load and the rows they make (latency, throughput, CPU per request);
- ``monitor``: the servers watched from outside (access-log times, log scans, /proc);
- ``results``: the machine, the commit, the JSON written, and the figures and formats the reports use.
"""
