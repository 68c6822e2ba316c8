/* SPDX-License-Identifier: MIT */
/* Small protocols for testing and plumbing, after twisted.protocols.wire. */
#ifndef WEFT_WIRE_H
#define WEFT_WIRE_H

#include "protocol.h"

/* Sets up *f (the caller's, which must outlive its connections) as a factory
 * of Echo protocols: every byte received is written back, with backpressure
 * (reading pauses while the unsent echo is above the transport's high-water
 * mark, so a peer that sends and never reads holds no more than that); the
 * peer's EOF is answered with ours once the echo is sent (half-close aware). */
WEFT_API void weft_echo_factory_init(weft_factory *f);

#endif
