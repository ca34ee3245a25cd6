"""Recording, retention and playback (issue 12): the server keeps each camera's H.264 on disk.

Pure modules (no I/O): :mod:`settings`, :mod:`naming`, :mod:`segment`, :mod:`retention`,
:mod:`motion`, :mod:`clip`. I/O: :mod:`index` (what is on disk), :mod:`writer` (a segment file
written by one thread per camera), :mod:`recorder` (the stream consumer), :mod:`manager`
(all cameras: recorders, retention, status).
"""
