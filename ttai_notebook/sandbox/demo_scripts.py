"""Scripts of the demo organisation's five scenarios: what each persona says, what a trainee says
at different skill levels, and the weighted rubric it is scored on. Data only; demo_data.py uses it."""
from __future__ import annotations

from typing import Any

__all__ = ["SCENARIOS"]

# Each scenario: public fields (name, descriptions, ai_instructions), a rubric (weights sum to 100),
# a difficulty offset for the learning model, a beat plan (the shape of a conversation), and line
# pools. In the pools, {me} is the trainee's first name and {them} the persona's first name.

_COLD_CALL: dict[str, Any] = {
    "key": "cold_call",
    "name": "Cold Call: Logistics SaaS Prospect",
    "description": "Cold call Dana Whitfield, VP Operations at a regional freight company, about RouteWise route optimisation.",
    "user_friendly_description": "Book a discovery meeting with a busy VP who did not expect your call.",
    "ai_instructions": (
        "You are Dana Whitfield, VP of Operations at Whitfield Freight, a 180-truck regional carrier. "
        "You are busy and did not expect this call. Answer with \"Dana speaking.\" "
        "Push back on price (\"We looked at tools like this and they were too expensive.\") and on "
        "timing (\"I really don't have time for this right now.\"). Mention you already use a competitor's "
        "dispatch module. Only agree to a meeting if the caller earns it with relevant questions."
    ),
    "rubric": [
        {"topic": "Opening & permission", "weight": 15, "prompt": "Greets, introduces themselves and asks for a moment."},
        {"topic": "Discovery questions", "weight": 25, "prompt": "Asks open questions about routes, fuel and dispatch."},
        {"topic": "Value proposition", "weight": 20, "prompt": "Links RouteWise to a quantified benefit."},
        {"topic": "Objection handling", "weight": 20, "prompt": "Acknowledges and reframes price and timing objections."},
        {"topic": "Next step commitment", "weight": 20, "prompt": "Books a specific meeting."},
    ],
    "difficulty": -0.05,
    "persona": "Dana",
    "plan": ["discover", "objection", "discover", "value", "objection", "discover", "close"],
    "ai": {
        "opening": ["Dana speaking.", "Whitfield Freight, this is Dana.", "Hello, Dana here, who's this?"],
        "answer": [
            "We run about 180 trucks out of three depots, and planning is still mostly spreadsheets and one very tired dispatcher.",
            "Fuel is our biggest variable cost. Last quarter it was up again and the board keeps asking me about it.",
            "Honestly the late deliveries hurt most. We pay penalties to two of our largest retail customers.",
            "Our dispatch team re-plans routes by hand every morning when drivers call in sick or loads change.",
            "We tried to fix it with overtime, but that just moved the cost around.",
        ],
        "objection": [
            "We looked at tools like this last year and they were too expensive for a carrier our size.",
            "I really don't have time for this right now, I've got a board meeting in an hour.",
            "We already use the dispatch module from our fleet telematics vendor, it does routing too.",
            "I'm not sure my dispatchers would ever adopt another system.",
        ],
        "close": ["Fine, send me an invite and I'll see if I can make it.", "Okay. Let's talk again, send me something.",
                  "Alright, you've got twenty minutes. Don't waste them."],
        "terminate": ["Look, I have to go. Bye.", "Sorry, I'm hanging up now."],
    },
}

_DISCOVERY: dict[str, Any] = {
    "key": "discovery",
    "name": "Discovery Call: Finance Ops Lead",
    "description": "Run a first discovery call with Priya Raman, Finance Operations Lead at a 400-person retailer, about LedgerFlow AP automation.",
    "user_friendly_description": "Understand the prospect's invoice process and pain before pitching anything.",
    "ai_instructions": (
        "You are Priya Raman, Finance Operations Lead at Harbor & Pine, a 400-person home-goods retailer. "
        "You agreed to this call. You process about 3,000 supplier invoices a month with a team of four. "
        "Share details only when asked good open questions; give short answers to closed questions. "
        "If the caller pitches before understanding your process, become guarded. Ask \"What would the next step be?\" near the end."
    ),
    "rubric": [
        {"topic": "Rapport", "weight": 15, "prompt": "Builds rapport and acknowledges what the prospect shares."},
        {"topic": "Open questions", "weight": 30, "prompt": "Asks open questions that uncover the process and its pain."},
        {"topic": "Active listening", "weight": 25, "prompt": "Lets the prospect talk; reflects back what was said."},
        {"topic": "Pain quantification", "weight": 15, "prompt": "Puts numbers on the cost of the current process."},
        {"topic": "Summary & next steps", "weight": 15, "prompt": "Summarises and agrees a concrete next step."},
    ],
    "difficulty": 0.0,
    "persona": "Priya",
    "plan": ["discover", "discover", "discover", "summary", "discover", "value", "close"],
    "ai": {
        "opening": ["Hi, this is Priya. I've got about thirty minutes.", "Priya here, thanks for setting this up."],
        "answer": [
            "We get roughly 3,000 supplier invoices a month, about a third still on paper, and four of us key them in.",
            "Month-end close takes us eight working days, and most of that is chasing approvals from store managers.",
            "Last year we paid around forty thousand dollars in late-payment fees because invoices sat in someone's inbox.",
            "The worst part is matching invoices to purchase orders when quantities don't line up. That's all manual.",
            "My team is good but they're burning out, and I lost one person in March.",
            "Our ERP is NetSuite, and IT is wary of anything that touches it.",
        ],
        "objection": ["I'm not sure we have budget for this before next fiscal year.",
                      "We've had vendors promise automation before and it became another system to babysit."],
        "close": ["That works. Send me the invite and include our controller.", "Okay, let's do that. What would the next step be?"],
        "terminate": ["Sorry, something urgent came up, I need to drop.", "I have to jump to another call."],
    },
}

_OBJECTION: dict[str, Any] = {
    "key": "objection",
    "name": "Objection Handling: Price Pushback at Renewal",
    "description": "Marcus Bell, procurement manager at a customer, pushes back on an 18% renewal increase and a cheaper competitor quote.",
    "user_friendly_description": "Keep the renewal without discounting by reframing on value.",
    "ai_instructions": (
        "You are Marcus Bell, procurement manager at Crestline Health, a customer of three years. "
        "The renewal quote is 18% higher than last year and a competitor offered a lower price. "
        "Open with \"Frankly, this renewal is too expensive.\" Push back twice on price and once on the competitor. "
        "Soften only if the account manager acknowledges the concern, asks what matters to you, and ties the price to results."
    ),
    "rubric": [
        {"topic": "Acknowledgement", "weight": 20, "prompt": "Acknowledges the customer's concern before answering."},
        {"topic": "Clarifying questions", "weight": 20, "prompt": "Asks what is driving the pushback."},
        {"topic": "Value reframing", "weight": 30, "prompt": "Reframes price in terms of results the customer got."},
        {"topic": "Competitor objection", "weight": 15, "prompt": "Handles the competitor comparison without disparaging."},
        {"topic": "Confident close", "weight": 15, "prompt": "Asks for the renewal and a dated next step."},
    ],
    "difficulty": -0.08,
    "persona": "Marcus",
    "first_user": "objection_reply",
    "plan": ["discover", "objection", "value", "objection", "discover", "close"],
    "ai": {
        "opening": ["Frankly, this renewal is too expensive.", "Marcus here. I have to be honest, the renewal price is a problem."],
        "answer": [
            "Our CFO froze every budget line above last year's spend unless someone can justify it.",
            "Your platform works, the nurses like it. That's not the issue. The issue is an eighteen percent jump.",
            "What matters to us is uptime on the scheduling side and not retraining three hundred staff.",
            "We did cut agency staffing costs last year, I'll give you that, but nobody connected it to your tool.",
        ],
        "objection": [
            "Eighteen percent is too much. Nobody else in our vendor list raised prices like that.",
            "The competitor quoted us twenty percent below what we pay today.",
            "I can't take a higher price to my CFO without something concrete.",
            "Why should we pay more for the same product?",
        ],
        "close": ["Send me that summary and I'll take it to the CFO.", "Alright. Put it in writing and we'll decide by Friday."],
        "terminate": ["I don't think this is going anywhere. Let's stop here.", "I need to go. We'll be in touch."],
    },
}

_SUPPORT: dict[str, Any] = {
    "key": "support",
    "name": "Support Escalation: Outage-Hit Customer",
    "description": "Jordan Lee, operations director, calls for the third time after a sync outage cost their team a day of orders.",
    "user_friendly_description": "De-escalate an angry customer and leave them with a plan they believe.",
    "ai_instructions": (
        "You are Jordan Lee, Director of Operations at Bloomfield Outfitters. A data-sync outage lost a full day of orders "
        "and this is your third call. Start angry: \"This is the third time I've called about this!\" "
        "Calm down only when the agent shows empathy, takes ownership and gives a concrete plan with a timeline. "
        "Threaten to cancel if you hear excuses."
    ),
    "rubric": [
        {"topic": "Empathy & de-escalation", "weight": 30, "prompt": "Recognises the customer's frustration and lowers the temperature."},
        {"topic": "Ownership", "weight": 20, "prompt": "Takes personal responsibility instead of deflecting."},
        {"topic": "Clear explanation", "weight": 15, "prompt": "Explains what happened clearly and concisely."},
        {"topic": "Resolution plan", "weight": 25, "prompt": "Offers concrete steps and a timeline."},
        {"topic": "Follow-up commitment", "weight": 10, "prompt": "Commits to a dated follow-up."},
    ],
    "difficulty": 0.02,
    "persona": "Jordan",
    "first_user": "empathy",
    "plan": ["discover", "resolution", "objection", "resolution", "close"],
    "ai": {
        "opening": ["This is the third time I've called about this!", "Finally, a human. Do you know how long I've been waiting?"],
        "answer": [
            "We lost every order from Tuesday. My team spent Wednesday re-keying them from emails.",
            "Nobody told us anything. I found out from a customer complaining on social media.",
            "The last person I spoke to said it was being looked at. That was four days ago.",
            "I need to know it won't happen again before our holiday peak.",
        ],
        "objection": [
            "Honestly this is ridiculous. I'm one more excuse away from cancelling.",
            "That's what the last agent said. Why should I believe you?",
            "A credit doesn't give me my Wednesday back.",
        ],
        "close": ["Okay. I'll hold you to that.", "Fine. If I hear from you tomorrow like you said, we're good."],
        "terminate": ["Forget it. I'm calling my account manager.", "I'm done with this call."],
    },
}

_INTERVIEW: dict[str, Any] = {
    "key": "interview",
    "name": "Behavioral Interview: Product Manager",
    "description": "Alex Morgan, a hiring manager, runs a 20-minute behavioural interview for a senior product manager role.",
    "user_friendly_description": "Answer behavioural questions with structured, measurable stories.",
    "ai_instructions": (
        "You are Alex Morgan, Director of Product at Fieldnote, interviewing a candidate for a senior product manager role. "
        "Ask three behavioural questions, one at a time: \"Tell me about a time you had to say no to a stakeholder.\", "
        "\"Tell me about a product decision you made with incomplete data.\", \"Tell me about a launch that did not go to plan.\" "
        "Probe for specifics and results. At the end ask \"What questions do you have for me?\""
    ),
    "rubric": [
        {"topic": "STAR structure", "weight": 25, "prompt": "Answers follow Situation, Task, Action, Result."},
        {"topic": "Measurable impact", "weight": 25, "prompt": "Quantifies the outcome of each story."},
        {"topic": "Conciseness", "weight": 15, "prompt": "Keeps answers focused, without filler."},
        {"topic": "Self-reflection", "weight": 15, "prompt": "Says what they learned and would do differently."},
        {"topic": "Questions for the interviewer", "weight": 20, "prompt": "Asks thoughtful questions about the role and team."},
    ],
    "difficulty": 0.0,
    "persona": "Alex",
    "first_user": "opening_interview",
    "plan": ["story", "story", "story", "ask_back"],
    "ai": {
        "opening": ["Hi, I'm Alex, I lead product here. Thanks for making the time. Ready to start?"],
        "question": [
            "Tell me about a time you had to say no to an important stakeholder.",
            "Tell me about a product decision you made with incomplete data.",
            "Tell me about a launch that did not go to plan.",
            "Tell me about a time you changed your mind because of customer research.",
        ],
        "answer": [
            "Good question. The team is seven engineers and a designer, and we ship every two weeks.",
            "Success in the first six months means owning the onboarding roadmap and moving activation.",
            "The hardest part of the role is saying no. We get more requests from sales than we can build.",
        ],
        "ask_back": ["We're almost out of time. What questions do you have for me?"],
        "close": ["Thanks, that's everything from me. Recruiting will be in touch this week.",
                  "Great, thank you. You'll hear from us by Friday."],
        "terminate": ["I'm sorry, we'll need to reschedule, something has come up.", "Let's stop here for today."],
    },
}

SCENARIOS: tuple[dict[str, Any], ...] = (_COLD_CALL, _DISCOVERY, _OBJECTION, _SUPPORT, _INTERVIEW)

# ---- the trainee's side, shared by every scenario; {me} / {them} / {company} filled at generation ----
USER_LINES: dict[str, dict[str, list[str]]] = {
    "opening": {
        "good": [
            "Hi {them}, this is {me} from {company}. The reason for my call is a quick idea about {topic}. Do you have two minutes?",
            "Hello {them}, my name is {me}, I'm with {company}. Thanks for taking the call. Is now a good time for a quick question about {topic}?",
            "Good morning {them}, {me} here, calling from {company}. I'll be quick: the reason I'm calling is {topic}.",
        ],
        "mid": [
            "Hi {them}, this is {me} from {company}.",
            "Hello, my name is {me}. I wanted to talk about {topic}.",
        ],
        "weak": [
            "Yeah hi, um, so I'm calling about, uh, some software stuff.",
            "Hey. So, basically, we have a product you might like.",
        ],
    },
    "opening_interview": {
        "good": [
            "Hi {them}, thanks for having me. I'm {me}; I've been a product manager for six years, most recently on a payments team. Ready when you are.",
            "Thanks {them}, great to meet you. I'm {me}, and I'm excited about this role. Happy to start.",
        ],
        "mid": ["Hi, yes, ready.", "Hello, thanks. Sure."],
        "weak": ["Uh, hi. Yeah, um, I guess so.", "Hey, yeah, sure, whatever works."],
    },
    "open_question": {
        "good": [
            "What does your process look like today, from start to finish?",
            "How are you handling that at the moment?",
            "What happens when that goes wrong, and what does it cost you?",
            "Tell me more about what a typical week looks like for your team.",
            "Why has that been hard to fix so far?",
            "How would you measure success if this problem went away?",
            "What would need to be true for you to change how you do this?",
        ]
    },
    "closed_question": {
        "mid": [
            "Do you use any software for that?",
            "Is that a big problem for you?",
            "Are you the person who decides on this?",
            "Would that be useful?",
        ]
    },
    "ack": {
        "good": ["That makes sense.", "I hear you.", "Thanks for sharing that.", "That's helpful.", "Fair point.",
                 "I understand."]
    },
    "summary": {
        "good": [
            "So what I'm hearing is that the manual work costs your team days every month, and the penalties are what the board notices. Did I get that right?",
            "Let me make sure I understand: the real cost is the time spent re-doing work, not the software itself. Is that fair?",
            "Just to confirm, you mentioned three things: time, penalties and people burning out. Which matters most?",
        ],
        "mid": ["Okay, got it.", "Right, okay."],
    },
    "value": {
        "good": [
            "Teams like yours typically reduce that work by 30% in the first quarter, which for you would be about 2 days a month back.",
            "One customer your size cut late penalties by 40% within 90 days, so the tool paid for itself in about four months.",
            "Because it plugs into what you already use, you'd save around 6 hours a week without retraining anyone.",
        ],
        "mid": ["We help companies be more efficient with this.", "It's a really good product and customers like it."],
        "weak": [
            "So, um, basically our platform has a lot of features, like dashboards and, you know, reports and integrations and AI and all sorts of things that kind of make everything better for, like, everyone.",
            "Yeah so it's, uh, kind of hard to explain but it basically does everything you need and more, you know.",
        ],
    },
    "objection_reply": {
        "good": [
            "I understand, that's a fair concern. What if we looked at it from the cost of doing nothing: the penalties alone were 40,000 last year, compared to a fraction of that for this.",
            "That makes sense, and I appreciate you being direct. The reason I'm still asking is that one customer like you saved 12% in the first quarter, which means it paid for itself.",
            "Fair point. Can I ask what matters most to you in that comparison? Because the value is in the 99.9% uptime and not retraining 300 people.",
        ],
        "mid": ["I see. Well, it's actually not that expensive if you look at it.", "Okay, but I think it's worth it."],
        "weak": [
            "Um, well, I mean, everyone says that, but, you know, it's basically the best on the market.",
            "Uh, okay. I guess I can, um, check with my manager about that.",
        ],
    },
    "empathy": {
        "good": [
            "I'm sorry, {them}. I can imagine how frustrating it is to lose a whole day and then have to call three times.",
            "You have every right to be upset, and I'd feel the same. Let me take this on personally.",
        ],
        "mid": ["I'm sorry about that.", "I understand."],
        "weak": ["Okay, well, um, these things happen sometimes.", "Uh, the system was down for a lot of customers, not just you."],
    },
    "resolution": {
        "good": [
            "Here's what I'll do: I've escalated this to our sync engineering team as priority one, I'll apply a credit for the lost day, and I'll call you tomorrow at 10 am with the root cause.",
            "The plan is three steps. I'll restore the missing orders from our backup within 24 hours, I'll send you the incident report by Friday, and I'm going to set up an alert so you hear from us first.",
        ],
        "mid": ["We're working on a fix and it should be resolved soon.", "I'll pass this on to the engineers."],
        "weak": ["Um, I think someone is, like, looking at it? I don't really know when.",
                 "Basically you'll have to wait for the tech team, I can't do much from here."],
    },
    "story": {
        "good": [
            "The situation was a launch where sales wanted a custom feature for one client. My task was to protect the roadmap. I decided to show the data: the feature served 2% of accounts. As a result we shipped a configurable version in 3 weeks that 40% of customers used. I learned to bring numbers, not opinions.",
            "In my last role, my task was to pick an onboarding redesign with only two weeks of data. I led a small test with 500 users, and the result was a 15% lift in activation. Looking back, I'd involve support earlier next time.",
            "The situation was a launch that slipped by a month. My role was to reset expectations. I organized a weekly review, we cut scope by 30%, and the outcome was a launch that hit 90% of its adoption target. It taught me to surface risk early.",
        ],
        "mid": [
            "We had a stakeholder who wanted something and I said no, and it worked out fine in the end.",
            "There was a launch that was late, and we worked hard and got it out.",
        ],
        "weak": [
            "Um, so, there was this time, like, a lot of things were going on, and basically I, you know, kind of tried to help everyone and it sort of worked out, I think, mostly, and the team was, um, happy with it overall, more or less.",
            "Uh, I don't really remember a specific time, but, you know, I usually just, like, talk to people and figure it out.",
        ],
    },
    "ask_back": {
        "good": [
            "What does success look like for this role in the first six months? And how does the team decide what not to build?",
            "How does product work with sales here? What is the hardest problem the team is facing right now?",
        ],
        "mid": ["No, I think you covered everything.", "Maybe, what are the working hours?"],
    },
    "close": {
        "good": [
            "Based on what you said, the next step would be a 30-minute session with your team. How does Tuesday at 10 am look? I'll send the invite today.",
            "Could we book a follow-up on Thursday at 2 pm to walk through the numbers? I'll send you a short summary by end of day.",
            "Let me send over a one-page summary tomorrow, and I'll call you on Friday at 11 to hear what your team thinks.",
        ],
        "mid": ["Great, I'll send you some information and we can follow up.", "Can we schedule a demo sometime?"],
        "weak": ["Okay, well, um, let me know if you're interested I guess.", "Cool, so, yeah. Bye."],
    },
}

#: Filler words a nervous trainee drops into a sentence.
FILLERS = ("um,", "uh,", "you know,", "basically,", "like,")

#: Topic phrase per scenario, used in openings.
TOPICS = {
    "cold_call": "cutting fuel and overtime on your routes",
    "discovery": "how your team handles supplier invoices",
    "objection": "your renewal",
    "support": "the sync outage",
    "interview": "the product manager role",
}

#: Company the trainee works for, per scenario.
COMPANIES = {
    "cold_call": "RouteWise",
    "discovery": "LedgerFlow",
    "objection": "CareShift",
    "support": "SyncDock support",
    "interview": "the interview panel",
}
