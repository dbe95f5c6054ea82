"""The images of a Tmall item in the sandbox (``tmall_item``): where each upload goes.

The seed page says an item holds at most 5 images and the main image's id is 0, and that
``is_major`` defaults to false, "非主图" (not the main image).  Where it says no more, the
sandbox takes the strict reading (``docs/sandbox.md``, conventions):

- The main image has id 0 and sits at position 0; only ``is_major=true`` (or ``id=0``)
  makes or replaces it.  Setting it again replaces its bytes in place (same URL).
- Every other image has a non-zero id and a position of its own, 1–4.  A new one takes
  the ``position`` asked for or the lowest free one; a ``position`` another image holds,
  ``position=0`` for an image that is not the main one, or ``is_major=true`` with another
  position is refused (41 ``isv.invalid-parameter:position``), never shifted.  With no
  free position left the upload is refused with ``isv.invalid-permission:image-num``.
- ``id`` with ``is_major=true`` makes that image the main image (its answer is id 0); the
  previous main image, if any, takes the promoted image's position under a *new* id, so an
  id never names a different image than the one it was answered for.
- The 3:4 image (``is_rectangle=true``) is not one of the five (the look-up does not list
  it): one per item, with a non-zero id of its own, replaced by the next ``is_rectangle``
  upload or by its id *with* ``is_rectangle=true``; it takes no ``position``.  The page
  calls it the "3:4商品主图", so ``is_major=true`` beside it says the same thing and
  leaves the main image alone.  Its id names no item image, so without ``is_rectangle``
  it is refused as ``isv.image-not-exist:invalid-image-id``, as is an item image's id
  with it.

Example
-------
>>> images = ItemImages(main=ItemImage(0, 0))
>>> step = images.plan(Ask(image_id=None, position=None, is_major=False,
...                        is_rectangle=False), has_image=True)
>>> (step.kind, step.position, step.previous)
('other', 1, None)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from imgkit.sandbox.timestamps import format_gmt8

MAX_IMAGES = 5
# Positions of the images that are not the main image (the main image is at 0).
OTHER_POSITIONS = range(1, MAX_IMAGES)


class Refusal(Exception):
    """A request the model refuses: ``key`` names the ``tmall_item`` catalogue entry."""

    def __init__(self, key: str, **fields: Any) -> None:
        super().__init__(key)
        self.key = key
        self.fields = fields


@dataclass
class ItemImage:
    """An image of an item, stored under ``key``.

    ``url`` is empty for an image seeded by the world (nobody uploaded it): it is served
    from :mod:`imgkit.sandbox.seeded` at the host the caller used.
    """

    id: int
    position: int
    url: str = ""
    key: str | None = None
    created: str = field(default_factory=format_gmt8)


@dataclass(frozen=True)
class Ask:
    """What a request asks for: ``id``, ``position``, ``is_major``, ``is_rectangle``."""

    image_id: int | None
    position: int | None
    is_major: bool
    is_rectangle: bool


@dataclass(frozen=True)
class Step:
    """Where an upload goes: a ``kind`` of slot, the image it replaces or moves, if any.

    ``promote`` is set when ``previous`` (an image that is not the main one) becomes the
    main image.
    """

    kind: Literal["main", "other", "rectangle"]
    position: int
    previous: ItemImage | None
    promote: bool = False


@dataclass
class ItemImages:
    """One item's images: the main one (id 0), the others by id, and the 3:4 one."""

    main: ItemImage | None = None
    others: dict[int, ItemImage] = field(default_factory=dict)
    rectangle: ItemImage | None = None

    def listed(self) -> list[ItemImage]:
        """The item's images by position, main image first; the 3:4 image is not one."""
        main = [self.main] if self.main is not None else []
        return main + sorted(self.others.values(), key=lambda image: image.position)

    def holder(self, position: int) -> ItemImage | None:
        """The image at ``position``, if any."""
        return next((image for image in self.listed() if image.position == position), None)

    def plan(self, ask: Ask, *, has_image: bool, single_picture: bool = False) -> Step:
        """Where ``ask`` goes, or :class:`Refusal`; ``single_picture``: no multi-image service.

        ``ask.position`` is already known to be 0–4.
        """
        if ask.is_rectangle:
            return self._plan_rectangle(ask, has_image)
        if ask.is_major or ask.image_id == 0:
            return self._plan_main(ask, has_image)
        return self._plan_other(ask, has_image, single_picture)

    def _plan_rectangle(self, ask: Ask, has_image: bool) -> Step:
        if ask.position is not None:
            raise Refusal("position_conflict")
        rectangle = self.rectangle
        if ask.image_id is not None and (rectangle is None or ask.image_id != rectangle.id):
            raise Refusal("image_not_exist")
        if not has_image and ask.image_id is None:
            raise Refusal("missing_image")
        return Step("rectangle", 0, rectangle)

    def _plan_main(self, ask: Ask, has_image: bool) -> Step:
        if ask.image_id not in (None, 0):
            image = self.others.get(ask.image_id)
            if image is None:
                raise Refusal("image_not_exist")
            if ask.position not in (None, 0):
                raise Refusal("position_conflict")
            return Step("main", 0, image, promote=True)
        if ask.image_id == 0 and self.main is None:
            raise Refusal("image_not_exist")
        if not has_image and ask.image_id is None:
            raise Refusal("missing_image")
        if ask.position not in (None, 0):
            raise Refusal("position_conflict")
        return Step("main", 0, self.main)

    def _plan_other(self, ask: Ask, has_image: bool, single_picture: bool) -> Step:
        previous = None
        if ask.image_id is not None:
            previous = self.others.get(ask.image_id)
            if previous is None:
                raise Refusal("image_not_exist")
        elif not has_image:
            raise Refusal("missing_image")
        elif single_picture:
            raise Refusal("picture_space_permission")
        elif len(self.others) >= len(OTHER_POSITIONS):
            raise Refusal("image_num")
        if ask.position is None:
            position = previous.position if previous is not None else self._free_position()
            return Step("other", position, previous)
        holder = self.holder(ask.position)
        if ask.position == 0 or (holder is not None and holder is not previous):
            raise Refusal("position_conflict")
        return Step("other", ask.position, previous)

    def _free_position(self) -> int:
        taken = {image.position for image in self.others.values()}
        return next(p for p in OTHER_POSITIONS if p not in taken)

    def _fresh_id(self, new_id: Callable[[], int]) -> int:
        """The next of ``new_id`` that is neither 0 nor an id this item already uses.

        The world's seeded ids and the state's counter could meet, so ids are checked.

        >>> images = ItemImages(others={7: ItemImage(7, 1)})
        >>> ids = iter([0, 7, 8])
        >>> images._fresh_id(lambda: next(ids))
        8
        """
        used = set(self.others) | ({self.rectangle.id} if self.rectangle is not None else set())
        while True:
            candidate = new_id()
            if candidate != 0 and candidate not in used:
                return candidate

    def apply(
        self, step: Step, new_id: Callable[[], int], stored: tuple[str, str] | None
    ) -> ItemImage:
        """Carry ``step`` out; ``stored`` is the new bytes' ``(key, url)``, if any.

        A replaced image keeps its ``created``; an image whose bytes are not replaced keeps
        its URL.  Returns the image the request answers with.
        """
        previous = step.previous
        image = ItemImage(
            id=previous.id if previous is not None else 0,
            position=step.position,
            url=previous.url if previous is not None else "",
            key=previous.key if previous is not None else None,
            created=previous.created if previous is not None else format_gmt8(),
        )
        if stored is not None:
            image.key, image.url = stored
        if step.kind == "rectangle":
            if previous is None:
                image.id = self._fresh_id(new_id)
            self.rectangle = image
        elif step.kind == "other":
            if previous is None:
                image.id = self._fresh_id(new_id)
            self.others[image.id] = image
        else:
            if step.promote and previous is not None:
                del self.others[previous.id]
                if self.main is not None:
                    self.main.id = self._fresh_id(new_id)
                    self.main.position = previous.position
                    self.others[self.main.id] = self.main
            image.id, image.position = 0, 0
            self.main = image
        return image
