"""kombu's filesystem transport with messages written whole before a worker can see them.

kombu 5.7's `filesystem` transport creates `<time>_<uuid>.<queue>.msg` in the queue folder, then
writes the message into it; a worker polling the folder can move and read the file in between,
read nothing, and stop on the JSONDecodeError ("Unrecoverable error", celery/kombu#1551: the
writer's flock is advisory and the reader never takes it). With web, beat and a worker per lane on
one laptop (`make run`) that happened within the first minute, and every text after it waited for a
worker that was gone. Here the message is written under a name the reader skips (it takes only
names ending in `.<queue>.msg`) and then renamed, which is atomic within one folder.
"""

import os
import uuid
from time import monotonic

from kombu.transport import filesystem
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}.partial")
        try:
            with open(partial, "wb") as f:
                f.write(dumps(payload).encode())
            os.replace(partial, final)
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
    # the filesystem transport's state is global; share it with kombu's own class
    global_state = filesystem.Transport.global_state
